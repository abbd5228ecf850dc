/**
 * SIP transactions (RFC 3261 §17) over reliable flows: server
 * transactions absorb retransmissions and match ACK and CANCEL; client
 * transactions carry the proxy's and local endpoints' requests to phones
 * until a final response or Timer B/F. transaction.ts holds the layer.
 *
 * May import: core, events, sip/message, sip/transport. Never the application.
 */
// A map, not a barrel: import the module you need directly.
export {};
