//! `--jq EXPR`: a jq filter over the JSON a command prints, run in-process with jaq (a maintained
//! jq implementation in Rust), so scripts need no external `jq`. Strings come out raw, one per line
//! (like `jq -r` and `gh --jq`); other values as compact JSON, one per line.

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars, data, unwrap_valr};
use jaq_json::Val;

use crate::error::{Error, Result};

fn compile_err(expr: &str, detail: String) -> Error {
    Error::Usage {
        message: format!("--jq {expr:?} is not a valid jq filter: {detail}"),
        hint: Some("e.g. --jq '.[] | select(.state == \"error\") | .id'".into()),
    }
}

/// Compile `expr` and run it over `json`; the lines to print.
fn evaluate(expr: &str, json: Option<&str>) -> Result<String> {
    let defs = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs());
    let funs = jaq_core::funs()
        .chain(jaq_std::funs())
        .chain(jaq_json::funs());
    let loader = Loader::new(defs);
    let arena = Arena::default();
    let program = File {
        code: expr,
        path: (),
    };
    let modules = loader
        .load(&arena, program)
        .map_err(|errs| compile_err(expr, format!("{} parse error(s)", errs.len())))?;
    let filter = Compiler::default()
        .with_funs(funs)
        .compile(modules)
        .map_err(|errs| compile_err(expr, format!("{} compile error(s)", errs.len())))?;
    let Some(json) = json else {
        return Ok(String::new());
    };
    let input = jaq_json::read::parse_single(json.as_bytes()).map_err(|e| Error::Usage {
        message: format!("--jq needs a JSON document, and this command printed none ({e})"),
        hint: None,
    })?;
    let ctx = Ctx::<data::JustLut<Val>>::new(&filter.lut, Vars::new([]));
    let mut out = String::new();
    for v in filter.id.run((ctx, input)).map(unwrap_valr) {
        let v = v.map_err(|e| Error::Usage {
            message: format!("--jq {expr:?} failed: {e}"),
            hint: None,
        })?;
        match &v {
            Val::TStr(s) => out.push_str(&String::from_utf8_lossy(s)),
            other => out.push_str(&other.to_string()),
        }
        out.push('\n');
    }
    Ok(out)
}

/// Refuse a filter that does not compile, before any request.
pub fn check(expr: &str) -> Result<()> {
    evaluate(expr, None).map(|_| ())
}

/// Run `expr` over the JSON document `json`.
pub fn apply(expr: &str, json: &str) -> Result<String> {
    let out = evaluate(expr, Some(json))?;
    // Strings come out raw: on a terminal, server text loses its controls as in tables.
    use std::io::IsTerminal;
    Ok(if std::io::stdout().is_terminal() {
        crate::text::sanitize(&out)
    } else {
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_raw_and_other_values_json() {
        let doc = r#"[{"id":"a","state":"error","size_gib":10},{"id":"b","state":"available","size_gib":null}]"#;
        assert_eq!(
            apply(r#".[] | select(.state == "error") | .id"#, doc).expect("runs"),
            "a\n"
        );
        assert_eq!(apply("map(.size_gib)", doc).expect("runs"), "[10,null]\n");
        assert_eq!(apply("length", doc).expect("runs"), "2\n");
        assert!(check(".[] | select(").is_err());
        assert!(check("nosuchfunction(1)").is_err());
    }
}
