/**
 * The event catalog: the ground floor every layer may import. What serve
 * reports (catalog.ts), the failure codes (codes.ts), the TFTP library's
 * own events (tftp.ts), checks (validate.ts) and the README table
 * (table.ts). Imports nothing from sipsec but itself.
 */
export * from './codes.js';
export * from './catalog.js';
export * from './tftp.js';
export * from './validate.js';
export * from './table.js';
