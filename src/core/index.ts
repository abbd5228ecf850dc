/**
 * Ground floor: what every layer may use. Typed errors with stable codes
 * (errors.ts), temp file + fsync + rename writes (atomic.ts), the store
 * lock (lock.ts), address helpers and allow-lists (net.ts).
 *
 * May import: nothing in src/ but src/events (the other ground-floor folder).
 */
// A map, not a barrel: import the module you need directly.
export {};
