// Size limits applied to every received message (datagram or framed stream message).

export interface SipLimits {
  /** Whole message, start line to end of body, in bytes. */
  maxMessageSize: number;
  /** Header lines (a folded header counts once). */
  maxHeaders: number;
  /** One physical line, terminator excluded. */
  maxLineLength: number;
}

export const DEFAULT_SIP_LIMITS: Readonly<SipLimits> = Object.freeze({
  maxMessageSize: 65535,
  maxHeaders: 256,
  maxLineLength: 8192,
});
