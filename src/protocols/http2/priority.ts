/**
 * RFC 9218 priority parameters: the `priority` header field and the PRIORITY_UPDATE frame
 * carry a Structured Fields dictionary (RFC 8941) with `u` (urgency, 0-7, default 3) and
 * `i` (incremental, boolean, default false). Unknown members and invalid values are
 * ignored (§4: "MUST ignore ... parameters they do not understand"; §4.1/4.2 invalid values
 * leave the default).
 */
export interface Priority {
  urgency: number;
  incremental: boolean;
}

export const DEFAULT_URGENCY = 3;

/** Parses a priority field value; members it does not understand keep their defaults. */
export function parsePriority(value: string, into: Priority): void {
  let urgency = DEFAULT_URGENCY;
  let incremental = false;
  for (const raw of value.split(',')) {
    const member = raw.trim();
    if (member.length === 0) continue;
    // A bare key may carry parameters too ("i;x" is i=?1 with a parameter, RFC 8941
    // §3.2): an '=' after the first ';' belongs to a parameter, not to the member.
    const semi = member.indexOf(';');
    let eq = member.indexOf('=');
    if (semi >= 0 && eq > semi) eq = -1;
    const key = (eq >= 0 ? member.slice(0, eq) : semi >= 0 ? member.slice(0, semi) : member).trim();
    // Parameters of a member (";a=b") are ignored.
    const rest =
      eq < 0
        ? '?1'
        : member
            .slice(eq + 1)
            .split(';')[0]!
            .trim();
    if (key === 'u') {
      if (/^[0-7]$/.test(rest)) urgency = rest.charCodeAt(0) - 0x30;
    } else if (key === 'i') {
      if (rest === '?1') incremental = true;
      else if (rest === '?0') incremental = false;
    }
  }
  into.urgency = urgency;
  into.incremental = incremental;
}
