//! `safemig rules` lists the rules of `check`; `safemig explain NAME` prints one's docs.

use safemig_analyze::rules::{self, RuleDoc};

use crate::cli::ExplainArgs;
use crate::context::{CliError, Context};
use crate::report::{self, human};

fn every_doc() -> Vec<&'static RuleDoc> {
    rules::all()
        .iter()
        .map(|r| r.doc())
        .chain(rules::CROSS_FILE.iter())
        .chain(std::iter::once(rules::not_known_safe_doc()))
        .collect()
}

fn doc_json(d: &RuleDoc) -> serde_json::Value {
    serde_json::json!({
        "name": d.name,
        "severity": d.severity,
        "summary": d.summary,
        "what_it_does": d.what_it_does,
        "why_it_matters": d.why_it_matters,
        "example": d.example,
        "use_instead": d.use_instead,
        "fix": safemig_analyze::fix::describe(d.name),
    })
}

pub fn list(ctx: &Context) -> Result<i32, CliError> {
    let docs = every_doc();
    if ctx.json() {
        report::print_json(
            &serde_json::json!({ "rules": docs.iter().map(|d| doc_json(d)).collect::<Vec<_>>() }),
        );
        return Ok(0);
    }
    let width = docs.iter().map(|d| d.name.len()).max().unwrap_or(0);
    for d in &docs {
        println!(
            "{:width$}  {:6}  {}",
            d.name,
            d.severity.as_str(),
            d.summary
        );
    }
    println!(
        "\n{} rules; `safemig explain NAME` for one rule's docs",
        docs.len()
    );
    Ok(0)
}

pub fn explain(ctx: &Context, args: &ExplainArgs) -> Result<i32, CliError> {
    let Some(d) = rules::doc(&args.rule) else {
        let close: Vec<&str> = every_doc()
            .iter()
            .map(|d| d.name)
            .filter(|n| {
                n.contains(args.rule.as_str())
                    || args
                        .rule
                        .split('-')
                        .any(|part| part.len() > 2 && n.contains(part))
            })
            .collect();
        let hint = if close.is_empty() {
            "`safemig rules` lists them".to_string()
        } else {
            format!("did you mean {}?", close.join(", "))
        };
        return Err(CliError::input(format!(
            "no rule named `{}`; {hint}",
            args.rule
        )));
    };
    if ctx.json() {
        report::print_json(&doc_json(d));
        return Ok(0);
    }
    println!(
        "{} ({})\n\n{}\n",
        human::bold(d.name),
        d.severity.as_str(),
        d.summary
    );
    println!("{}\n{}\n", human::bold("What it does"), d.what_it_does);
    println!("{}\n{}\n", human::bold("Why it matters"), d.why_it_matters);
    println!(
        "{}\n{}\n",
        human::bold("Example"),
        human::indent(d.example, 4)
    );
    println!(
        "{}\n{}\n",
        human::bold("Use instead"),
        human::indent(d.use_instead, 4)
    );
    println!(
        "{}\n{}",
        human::bold("Fix"),
        human::indent(safemig_analyze::fix::describe(d.name), 4)
    );
    Ok(0)
}
