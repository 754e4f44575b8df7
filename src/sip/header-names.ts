// Header names: compact forms, case-insensitive keys and canonical capitalisation.

/** Compact forms (RFC 3261 §7.3.3 and the extensions that define one) → canonical name. */
const COMPACT_FORMS: Readonly<Record<string, string>> = {
  a: 'Accept-Contact',
  b: 'Referred-By',
  c: 'Content-Type',
  d: 'Request-Disposition',
  e: 'Content-Encoding',
  f: 'From',
  i: 'Call-ID',
  j: 'Reject-Contact',
  k: 'Supported',
  l: 'Content-Length',
  m: 'Contact',
  o: 'Event',
  r: 'Refer-To',
  s: 'Subject',
  t: 'To',
  u: 'Allow-Events',
  v: 'Via',
  x: 'Session-Expires',
  y: 'Identity',
};

/** Well-known headers whose capitalisation is not simply "Each-Word-Capitalised". */
const KNOWN_NAMES = [
  'Accept',
  'Accept-Contact',
  'Accept-Encoding',
  'Accept-Language',
  'Alert-Info',
  'Allow',
  'Allow-Events',
  'Authentication-Info',
  'Authorization',
  'Call-ID',
  'Call-Info',
  'Contact',
  'Content-Disposition',
  'Content-Encoding',
  'Content-Language',
  'Content-Length',
  'Content-Type',
  'CSeq',
  'Date',
  'Error-Info',
  'Event',
  'Expires',
  'Flow-Timer',
  'From',
  'History-Info',
  'Identity',
  'In-Reply-To',
  'Max-Forwards',
  'MIME-Version',
  'Min-Expires',
  'Min-SE',
  'Organization',
  'P-Asserted-Identity',
  'P-Preferred-Identity',
  'Path',
  'Priority',
  'Privacy',
  'Proxy-Authenticate',
  'Proxy-Authorization',
  'Proxy-Require',
  'RAck',
  'Reason',
  'Record-Route',
  'Refer-To',
  'Referred-By',
  'Reject-Contact',
  'Replaces',
  'Reply-To',
  'Request-Disposition',
  'Require',
  'Retry-After',
  'Route',
  'RSeq',
  'Security-Client',
  'Security-Server',
  'Security-Verify',
  'Server',
  'Service-Route',
  'Session-Expires',
  'SIP-ETag',
  'SIP-If-Match',
  'Subject',
  'Subscription-State',
  'Supported',
  'Timestamp',
  'To',
  'Unsupported',
  'User-Agent',
  'Via',
  'Warning',
  'WWW-Authenticate',
];

/** key (lower-case full name) → canonical display name. */
const DISPLAY = new Map<string, string>();
/**
 * Exact spellings seen on the wire → key. Pre-populated only (never grown from input, so hostile
 * traffic cannot inflate it); it spares a toLowerCase() allocation for the usual spellings.
 */
const KEY_BY_SPELLING = new Map<string, string>();

for (const name of KNOWN_NAMES) {
  const key = name.toLowerCase();
  DISPLAY.set(key, name);
  for (const spelling of [name, key, name.toUpperCase()]) KEY_BY_SPELLING.set(spelling, key);
}
for (const [compact, full] of Object.entries(COMPACT_FORMS)) {
  const key = full.toLowerCase();
  KEY_BY_SPELLING.set(compact, key);
  KEY_BY_SPELLING.set(compact.toUpperCase(), key);
}

/**
 * The lookup key of a header name: its full name in lower case, whatever the case or compact form
 * used (`v`, `VIA` and `Via` all give `via`).
 */
export function headerKey(name: string): string {
  const known = KEY_BY_SPELLING.get(name);
  if (known !== undefined) return known;
  const lower = name.toLowerCase();
  return (lower.length === 1 && KEY_BY_SPELLING.get(lower)) || lower;
}

/** The canonical spelling of a well-known header (`call-id` → `Call-ID`, `v` → `Via`); others as given. */
export function canonicalHeaderName(name: string): string {
  return DISPLAY.get(headerKey(name)) ?? name;
}
