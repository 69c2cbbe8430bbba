// API errors, shown where they belong: each error code the API answers names the form
// field it concerns, so the editor puts the message under that field (never a JSON dump).
// Pure functions: unit-tested with node --test.

/** The field of the link form each error code concerns. */
export const FIELD_OF_CODE = {
  invalid_url: "url",
  unsupported_scheme: "url",
  url_too_long: "url",
  blocked_host: "url",
  self_link: "url",
  private_target: "url",
  invalid_host: "url",
  invalid_alias: "alias",
  reserved_alias: "alias",
  alias_taken: "alias",
  invalid_title: "title",
  invalid_tags: "tags",
  invalid_expires_at: "expires_at",
  invalid_max_visits: "max_visits",
  invalid_password: "password",
  invalid_rules: "rules",
  invalid_disabled: "disabled",
  link_taken_down: "disabled",
  invalid_forward_query: "forward_query",
  invalid_filter: "q",
  invalid_date: "from",
  invalid_range: "from",
  invalid_csv: "file",
  invalid_batch_size: "file",
  payload_too_large: "file",
  unsupported_media_type: "file",
  invalid_on_conflict: "on_conflict",
};

/** Short words for each error code, before the API's own message. */
const TITLE_OF_CODE = {
  unauthorized: "Not signed in",
  forbidden: "Not allowed",
  not_found: "No such link",
  alias_taken: "Alias taken",
  reserved_alias: "Reserved word",
  private_target: "Private address",
  self_link: "Link to this service",
  blocked_host: "Blocked host",
  store_unavailable: "Service busy",
  too_many_attempts: "Too many attempts",
  payload_too_large: "Too large",
  link_taken_down: "Taken down",
};

/**
 * Where an error goes in the link form: `{field, rule, message}`. A rule URL's error
 * ("rules[2].url: ...") names the rule, counted from 0; an error without a field of the
 * form has `field: null` (shown above the form).
 */
export function placeError(error) {
  const code = error?.code || "internal_error";
  let message = error?.message || "Something went wrong";
  let field = FIELD_OF_CODE[code] ?? null;
  let rule = null;
  const m = /^rules\[(\d+)\](?:\.url)?:\s*(.*)$/s.exec(message);
  if (m) {
    field = "rules";
    rule = Number(m[1]);
    message = m[2];
  }
  return { field, rule, message };
}

/** A message of the API as a sentence: its first letter capitalized ("url" as URL). */
export function sentence(message) {
  const m = String(message || "").replace(/^url\b/, "URL");
  return m.charAt(0).toUpperCase() + m.slice(1);
}

/** One line of words for an error, e.g. in a result table. */
export function describe(error, status) {
  if (!error) return status ? `HTTP ${status}` : "Unknown error";
  const title = TITLE_OF_CODE[error.code];
  const message = error.message || error.code || "error";
  return title ? `${title}: ${message}` : sentence(message);
}

/** What a sign-in failure means to a person. */
export function signInMessage(status, error) {
  if (status === 401) {
    return error?.message?.includes("revoked") || error?.message?.includes("unknown")
      ? "This key is unknown or has been revoked. Ask an admin for a new one (make key)."
      : "That does not look like an API key: keys start with slk_.";
  }
  if (status === 0) return "The API cannot be reached. Check your connection and try again.";
  if (status === 503) return "The service is busy. Try again in a few seconds.";
  return describe(error, status);
}
