/**
 * The phones of a CA home: adding and editing them (phones.ts: names,
 * MACs, SIP users and secrets), CSV import (csv.ts, import.ts), secret
 * generation (secret.ts).
 *
 * Application floor. May import: core, events, pki, home, vendors, and any
 * protocol folder.
 */
// A map, not a barrel: import the module you need directly.
export {};
