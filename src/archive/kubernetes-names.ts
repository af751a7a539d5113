/** Kubernetes object-name rules (apimachinery validation), checked on names read from untrusted archives. */

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_LABEL_MAX = 63;
const DNS1123_SUBDOMAIN_MAX = 253;

export function isDns1123Label(value: string): boolean {
  return value.length <= DNS1123_LABEL_MAX && DNS1123_LABEL.test(value);
}

/** Dot-separated labels; each part follows the label pattern (length is capped for the whole). */
export function isDns1123Subdomain(value: string): boolean {
  if (value.length === 0 || value.length > DNS1123_SUBDOMAIN_MAX) return false;
  return value.split('.').every((part) => DNS1123_LABEL.test(part));
}
