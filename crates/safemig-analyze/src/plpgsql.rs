//! The SQL inside `DO` blocks and PL/pgSQL function bodies, read with
//! libpg_query's PL/pgSQL parser, so that a `DROP TABLE` inside a `DO` block is
//! still a drop.

use serde_json::Value;

/// One SQL statement found inside PL/pgSQL code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Embedded {
    /// The statement's SQL; for dynamic SQL that is not a plain literal, the expression.
    pub query: String,
    /// Inside an `IF` (or `ELSIF`) whose condition tests the catalog
    /// (`IF EXISTS (SELECT 1 FROM pg_catalog.pg_tables ...)`, `to_regclass(...)`).
    pub guarded: bool,
    /// `EXECUTE` of a string built at run time: not analysable.
    pub dynamic: bool,
}

/// The statements of a `DO` block's body (PL/pgSQL).
pub fn from_do_body(body: &str) -> Result<Vec<Embedded>, String> {
    // libpg_query parses PL/pgSQL as a function: wrap the block in one.
    let mut tag = String::from("safemig_do");
    while body.contains(&format!("${tag}$")) {
        tag.push('_');
    }
    let wrapped = format!("CREATE FUNCTION pg_temp.safemig_do() RETURNS void LANGUAGE plpgsql AS ${tag}${body}${tag}$");
    from_function(&wrapped)
}

/// The statements of a `CREATE FUNCTION ... LANGUAGE plpgsql` statement's body.
pub fn from_function(create_function: &str) -> Result<Vec<Embedded>, String> {
    let json = parse_plpgsql_json(create_function)?;
    let mut out = Vec::new();
    match serde_json::from_str::<Value>(&json) {
        Ok(parsed) => walk(&parsed, false, &mut out),
        // libpg_query writes the `datums` of trigger functions as invalid JSON
        // (`{}}` for each TG_ variable). The statements are all under `action`:
        // read each `"action":` value on its own and leave the datums alone.
        Err(_) => {
            for (at, _) in json.match_indices("\"action\":") {
                let rest = &json[at + "\"action\":".len()..];
                let mut values = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
                match values.next() {
                    Some(Ok(action)) => walk(&action, false, &mut out),
                    _ => {
                        return Err("libpg_query returned PL/pgSQL JSON that cannot be read".into())
                    }
                }
            }
        }
    }
    Ok(out)
}

mod ffi {
    use std::os::raw::c_char;

    #[repr(C)]
    pub struct PgQueryPlpgsqlParseResult {
        pub plpgsql_funcs: *mut c_char,
        pub error: *mut crate::parse::ffi_error::PgQueryError,
    }

    extern "C" {
        // Declared in libpg_query's pg_query.h; linked by the pg_query crate.
        pub fn pg_query_parse_plpgsql(input: *const c_char) -> PgQueryPlpgsqlParseResult;
        pub fn pg_query_free_plpgsql_parse_result(result: PgQueryPlpgsqlParseResult);
    }
}

/// libpg_query's PL/pgSQL parse tree as JSON text. The `pg_query` crate's own
/// wrapper parses that text and fails on trigger functions (see above).
fn parse_plpgsql_json(sql: &str) -> Result<String, String> {
    let input = std::ffi::CString::new(sql).map_err(|e| e.to_string())?;
    // SAFETY: libpg_query's documented API: the strings are copied out, then the
    // result is freed exactly once.
    unsafe {
        let result = ffi::pg_query_parse_plpgsql(input.as_ptr());
        let out = if !result.error.is_null() {
            let message = (*result.error).message;
            Err(if message.is_null() {
                "PL/pgSQL parse error".to_string()
            } else {
                std::ffi::CStr::from_ptr(message)
                    .to_string_lossy()
                    .into_owned()
            })
        } else if result.plpgsql_funcs.is_null() {
            Ok("[]".to_string())
        } else {
            Ok(std::ffi::CStr::from_ptr(result.plpgsql_funcs)
                .to_string_lossy()
                .into_owned())
        };
        ffi::pg_query_free_plpgsql_parse_result(result);
        out
    }
}

fn expr_query(value: &Value) -> Option<&str> {
    value.get("PLpgSQL_expr")?.get("query")?.as_str()
}

/// Does an `IF` condition look at the catalog (so what it guards is idempotent)?
fn tests_catalog(condition: &str) -> bool {
    let c = condition.to_lowercase();
    c.contains("pg_") || c.contains("information_schema") || c.contains("to_reg")
}

fn walk(value: &Value, guarded: bool, out: &mut Vec<Embedded>) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| walk(v, guarded, out)),
        Value::Object(map) => {
            if let Some(stmt) = map.get("PLpgSQL_stmt_execsql") {
                if let Some(query) = stmt.get("sqlstmt").and_then(expr_query) {
                    out.push(Embedded {
                        query: query.to_string(),
                        guarded,
                        dynamic: false,
                    });
                }
                return;
            }
            // PERFORM f(): a SELECT whose result is thrown away; what it calls still runs.
            if let Some(stmt) = map.get("PLpgSQL_stmt_perform") {
                if let Some(query) = stmt.get("expr").and_then(expr_query) {
                    let query = query.trim_start();
                    let select = match query.get(..7) {
                        Some(head) if head.eq_ignore_ascii_case("perform") => {
                            format!("SELECT{}", &query[7..])
                        }
                        _ if query.len() >= 6 && query[..6].eq_ignore_ascii_case("select") => {
                            query.to_string()
                        }
                        _ => format!("SELECT {query}"),
                    };
                    out.push(Embedded {
                        query: select,
                        guarded,
                        dynamic: false,
                    });
                }
                return;
            }
            // Queries that run as part of a loop, a cursor or a RETURN: FOR r IN SELECT,
            // RETURN QUERY SELECT, OPEN c FOR SELECT. What they read is used when the block runs.
            for (kind, key) in [
                ("PLpgSQL_stmt_fors", "query"),
                ("PLpgSQL_stmt_return_query", "query"),
                ("PLpgSQL_stmt_open", "query"),
            ] {
                if let Some(stmt) = map.get(kind) {
                    if let Some(query) = stmt.get(key).and_then(expr_query) {
                        out.push(Embedded {
                            query: query.to_string(),
                            guarded,
                            dynamic: false,
                        });
                    }
                    if let Some(body) = stmt.get("body") {
                        walk(body, guarded, out);
                    }
                    return;
                }
            }
            if let Some(stmt) = map.get("PLpgSQL_stmt_dynexecute") {
                let expr = stmt.get("query").and_then(expr_query).unwrap_or("").trim();
                match string_literal(expr).or_else(|| format_template(expr)) {
                    // EXECUTE 'DROP TABLE a': a constant, as good as written out;
                    // EXECUTE format('DROP TABLE %I', t): its template, with a
                    // stand-in name for each placeholder, says what kind of statement runs.
                    Some(sql) => out.push(Embedded {
                        query: sql,
                        guarded,
                        dynamic: false,
                    }),
                    None => out.push(Embedded {
                        query: expr.to_string(),
                        guarded,
                        dynamic: true,
                    }),
                }
                return;
            }
            if let Some(stmt) = map.get("PLpgSQL_stmt_if") {
                let catalog = stmt
                    .get("cond")
                    .and_then(expr_query)
                    .is_some_and(tests_catalog);
                if let Some(body) = stmt.get("then_body") {
                    walk(body, guarded || catalog, out);
                }
                if let Some(elsifs) = stmt.get("elsif_list").and_then(Value::as_array) {
                    for elsif in elsifs {
                        let e = elsif.get("PLpgSQL_if_elsif").unwrap_or(elsif);
                        let catalog = e
                            .get("cond")
                            .and_then(expr_query)
                            .is_some_and(tests_catalog);
                        if let Some(body) = e.get("stmts") {
                            walk(body, guarded || catalog, out);
                        }
                    }
                }
                if let Some(body) = stmt.get("else_body") {
                    // The ELSE of a catalog test runs when the object is (not) there: guarded too.
                    walk(body, guarded || catalog, out);
                }
                return;
            }
            map.values().for_each(|v| walk(v, guarded, out));
        }
        _ => {}
    }
}

/// `format('<template>', ...)` with a constant template: the template with each
/// `%I`/`%s` as a stand-in identifier and each `%L` as a stand-in literal.
fn format_template(expr: &str) -> Option<String> {
    let lower = expr.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("format(")
        .or_else(|| lower.strip_prefix("pg_catalog.format("))?;
    let start = expr.len() - rest.len();
    let literal = &expr[start..];
    // The first argument: a literal up to its closing quote (doubled quotes inside).
    let bytes: Vec<char> = literal.chars().collect();
    if bytes.first() != Some(&'\'') {
        return None;
    }
    let mut i = 1;
    let mut end = None;
    while i < bytes.len() {
        if bytes[i] == '\'' {
            if bytes.get(i + 1) == Some(&'\'') {
                i += 2;
                continue;
            }
            end = Some(i);
            break;
        }
        i += 1;
    }
    let end = end?;
    let template = string_literal(&bytes[..=end].iter().collect::<String>())?;
    let mut out = String::with_capacity(template.len());
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        // %[position$][flags][width]type
        let mut spec = String::new();
        while let Some(&n) = chars.peek() {
            chars.next();
            if n.is_ascii_alphabetic() || n == '%' {
                spec.push(n);
                break;
            }
        }
        match spec.as_str() {
            "%" => out.push('%'),
            "L" => out.push_str("'safemig_value'"),
            _ => out.push_str("safemig_name"),
        }
    }
    Some(out)
}

/// `'DROP TABLE a'` -> `DROP TABLE a`, for a plain SQL string literal only.
fn string_literal(expr: &str) -> Option<String> {
    let inner = expr.strip_prefix('\'')?.strip_suffix('\'')?;
    // A doubled quote is an escaped quote; a lone one would end the literal early.
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' && chars.next() != Some('\'') {
            return None;
        }
        out.push(c);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_of_a_do_block_with_catalog_guards_and_dynamic_sql() {
        let body = "BEGIN
            IF EXISTS (SELECT 1 FROM information_schema.columns WHERE column_name = 'r2_key') THEN
                ALTER TABLE public.library_tracks DROP COLUMN r2_key;
            END IF;
            DELETE FROM public.sessions;
            EXECUTE 'TRUNCATE public.cache';
            EXECUTE format('DROP TABLE %I', tbl);
            EXECUTE stmt;
        END";
        let found = from_do_body(body).unwrap();
        assert_eq!(found.len(), 5, "{found:?}");
        assert_eq!(
            found[0],
            Embedded {
                query: "ALTER TABLE public.library_tracks DROP COLUMN r2_key".into(),
                guarded: true,
                dynamic: false
            }
        );
        assert!(!found[1].guarded && found[1].query.starts_with("DELETE"));
        assert_eq!(found[2].query, "TRUNCATE public.cache");
        // A format() template says what kind of statement runs.
        assert_eq!(found[3].query, "DROP TABLE safemig_name");
        assert!(!found[3].dynamic);
        assert!(found[4].dynamic);
    }

    #[test]
    fn function_bodies_and_a_body_containing_the_wrapper_tag() {
        let f = "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO public.users (id) VALUES (NEW.id); RETURN NEW; END $$";
        let found = from_function(f).unwrap();
        assert_eq!(found.len(), 1);
        assert!(found[0].query.starts_with("INSERT INTO public.users"));
        assert!(from_do_body("BEGIN PERFORM '$safemig_do$'; END").is_ok());
    }

    #[test]
    fn queries_of_loops_cursors_returns_and_select_into_are_statements_too() {
        let body = "DECLARE r record; n int; c refcursor;
        BEGIN
            FOR r IN SELECT id FROM public.loop_source LOOP
                PERFORM public.touch(r.id);
            END LOOP;
            SELECT count(*) INTO n FROM public.into_source;
            OPEN c FOR SELECT * FROM public.cursor_source;
        END";
        let found = from_do_body(body).unwrap();
        let all: String = found
            .iter()
            .map(|e| e.query.clone())
            .collect::<Vec<_>>()
            .join(" | ");
        for table in ["loop_source", "into_source", "cursor_source", "touch"] {
            assert!(all.contains(table), "{table} in {all}");
        }
        let f = "CREATE FUNCTION f() RETURNS SETOF int LANGUAGE plpgsql AS $$ BEGIN RETURN QUERY SELECT id FROM public.rq_source; END $$";
        let found = from_function(f).unwrap();
        assert!(
            found.iter().any(|e| e.query.contains("rq_source")),
            "{found:?}"
        );
    }

    #[test]
    fn format_templates_stand_in_for_their_placeholders() {
        assert_eq!(
            format_template("format('DROP TABLE IF EXISTS public.%I CASCADE', r.tablename)"),
            Some("DROP TABLE IF EXISTS public.safemig_name CASCADE".into())
        );
        assert_eq!(
            format_template("format('UPDATE %I.%I SET a = %L', s, t, v)"),
            Some("UPDATE safemig_name.safemig_name SET a = 'safemig_value'".into())
        );
        assert_eq!(format_template("'x' || y"), None);
    }

    #[test]
    fn string_literals() {
        assert_eq!(string_literal("'it''s'"), Some("it's".into()));
        assert_eq!(string_literal("'a' || b || 'c'"), None);
    }
}
