/** PROXY protocol (HAProxy, AWS NLB) header constants. @see https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt */
import { Buffer } from 'node:buffer';

/** The 12-byte signature that opens every v2 header. */
export const proxyV2Signature = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

/** A complete v2 `LOCAL` header (version 2, command LOCAL, family UNSPEC, no addresses): the sender speaks for itself. */
export const proxyV2LocalHeader = Buffer.concat([proxyV2Signature, Buffer.from([0x20, 0x00, 0x00, 0x00])]);
