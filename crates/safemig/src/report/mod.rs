//! Rendering for people (colour only on a terminal, never with NO_COLOR) and for scripts (JSON).

pub mod human;

/// Prints a JSON value as one document on stdout.
pub fn print_json(value: &serde_json::Value) {
    let text = serde_json::to_string_pretty(value).expect("JSON values serialize");
    println!("{}", safemig_pg::redact::redact(&text));
}
