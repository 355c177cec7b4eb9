//! Drift: the live database's schema against the one its migrations build on an
//! empty throwaway PostgreSQL. What is missing (the migrations create it, the
//! database lacks it: the seed's "function exists, trigger missing"), extra (made
//! by hand, outside the migrations) or different (a function body edited in the
//! dashboard).

use std::collections::BTreeMap;

use postgres::GenericClient;
use serde::Serialize;

use crate::catalog::UNPROTECTED_SCHEMAS;
use crate::PgError;

/// `kind name` → its definition, for every object drift compares.
pub type Schema = BTreeMap<String, String>;

#[derive(Debug, Clone, Serialize)]
pub struct Difference {
    /// `missing`, `extra` or `different`.
    pub state: &'static str,
    /// `table public.users`, `trigger on_auth_user_created ON auth.users`, ...
    pub object: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
}

/// The schemas drift compares: not PostgreSQL's, not those Supabase manages
/// (their contents differ between a real project and the stand-in).
fn user_schema(alias: &str) -> String {
    let list: Vec<String> = UNPROTECTED_SCHEMAS
        .iter()
        .map(|s| crate::quote_literal(s))
        .collect();
    format!(
        "({alias}.nspname NOT IN ({}) AND {alias}.nspname !~ '^pg_')",
        list.join(", ")
    )
}

/// Not a member of an extension (PostGIS's `spatial_ref_sys`, say): the
/// extension, not the migrations, makes it.
fn not_in_extension(oid: &str, catalog: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM pg_depend dep WHERE dep.objid = {oid} AND dep.classid = '{catalog}'::regclass AND dep.deptype = 'e')"
    )
}

/// The catalog of the database `client` is connected to, as drift compares it.
/// Read with `search_path = pg_catalog`, so every name PostgreSQL prints is
/// schema-qualified the same way in both databases, whatever the role's path.
pub fn snapshot(client: &mut impl GenericClient, exposed: &[String]) -> Result<Schema, PgError> {
    let mut tx = client
        .transaction()
        .map_err(|e| PgError::sql("reading the catalog for drift", &e))?;
    tx.batch_execute("SET LOCAL search_path = pg_catalog")
        .map_err(|e| PgError::sql("reading the catalog for drift", &e))?;
    let schema = read_snapshot(&mut tx, exposed);
    let _ = tx.rollback();
    schema
}

fn read_snapshot(client: &mut impl GenericClient, exposed: &[String]) -> Result<Schema, PgError> {
    let plain = user_schema("n");
    let n = format!("{plain} AND {}", not_in_extension("c.oid", "pg_class"));
    let index_n = format!("{plain} AND {}", not_in_extension("i.indrelid", "pg_class"));
    let queries = [
        // Tables and views (a view by its definition).
        format!(
            "SELECT CASE c.relkind WHEN 'v' THEN 'view ' WHEN 'm' THEN 'materialized view ' ELSE 'table ' END \
                    || format('%I.%I', n.nspname, c.relname), \
                    CASE WHEN c.relkind IN ('v', 'm') THEN md5(pg_get_viewdef(c.oid)) ELSE \
                    CASE WHEN c.relrowsecurity THEN 'row level security on' ELSE 'row level security off' END END \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p', 'v', 'm') AND {n}"
        ),
        format!(
            "SELECT 'column ' || format('%I.%I.%I', n.nspname, c.relname, a.attname), \
                    format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END \
                    || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '') \
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped AND {n}"
        ),
        format!(
            "SELECT 'constraint ' || format('%I ON %I.%I', co.conname, n.nspname, c.relname), pg_get_constraintdef(co.oid) \
             FROM pg_constraint co JOIN pg_class c ON c.oid = co.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE {n}"
        ),
        format!(
            "SELECT 'index ' || format('%I.%I', n.nspname, c.relname), pg_get_indexdef(c.oid) \
             FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE {index_n}"
        ),
        format!(
            "SELECT 'function ' || format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)), \
                    'returns ' || pg_get_function_result(p.oid) || CASE WHEN p.prosecdef THEN ', security definer' ELSE '' END \
                    || coalesce(', set ' || array_to_string(p.proconfig, ', '), '') || ', body md5 ' || md5(p.prosrc) \
             FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
             WHERE {plain} AND NOT EXISTS (SELECT 1 FROM pg_depend dep WHERE dep.objid = p.oid AND dep.deptype = 'e')"
        ),
        // Triggers on user tables, and triggers anywhere (auth.users) that run a user function.
        format!(
            "SELECT 'trigger ' || format('%I ON %I.%I', t.tgname, n.nspname, c.relname), \
                    pg_get_triggerdef(t.oid) || CASE t.tgenabled WHEN 'D' THEN ' (disabled)' ELSE '' END \
             FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_namespace fn ON fn.oid = p.pronamespace \
             WHERE NOT t.tgisinternal AND ({n} OR {})",
            user_schema("fn")
        ),
        // Policies, on user tables and on Supabase's (storage.objects policies come from migrations).
        "SELECT 'policy ' || format('%I ON %I.%I', policyname, schemaname, tablename), \
                cmd || ' to ' || array_to_string(roles, ',') || coalesce(' using ' || qual, '') \
                || coalesce(' with check ' || with_check, '') || CASE WHEN permissive = 'PERMISSIVE' THEN '' ELSE ' restrictive' END \
         FROM pg_policies"
            .to_string(),
    ];
    let mut out = Schema::new();
    for sql in &queries {
        for row in client
            .query(sql.as_str(), &[])
            .map_err(|e| PgError::sql("reading the catalog for drift", &e))?
        {
            out.insert(row.get(0), row.get(1));
        }
    }
    // Grants on tables in the schemas the API exposes: who may read and write what.
    let grants = client
        .query(
            "SELECT 'grant ' || format('%I.%I', n.nspname, c.relname) || ' to ' || \
                    CASE WHEN a.grantee = 0 THEN 'public' ELSE a.grantee::regrole::text END, \
                    string_agg(a.privilege_type, ',' ORDER BY a.privilege_type) \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a \
             WHERE c.relkind IN ('r', 'p', 'v', 'm') AND n.nspname = ANY($1) AND a.grantee <> c.relowner \
               AND NOT EXISTS (SELECT 1 FROM pg_depend dep WHERE dep.objid = c.oid AND dep.classid = 'pg_class'::regclass AND dep.deptype = 'e') \
             GROUP BY 1",
            &[&exposed],
        )
        .map_err(|e| PgError::sql("reading grants for drift", &e))?;
    for row in grants {
        out.insert(row.get(0), row.get(1));
    }
    Ok(out)
}

/// What differs between the schema the migrations build and the live one.
pub fn compare(expected: &Schema, actual: &Schema) -> Vec<Difference> {
    let mut out = Vec::new();
    for (object, want) in expected {
        match actual.get(object) {
            None => out.push(Difference {
                state: "missing",
                object: object.clone(),
                expected: Some(want.clone()),
                actual: None,
            }),
            Some(have) if have != want => out.push(Difference {
                state: "different",
                object: object.clone(),
                expected: Some(want.clone()),
                actual: Some(have.clone()),
            }),
            _ => {}
        }
    }
    for (object, have) in actual {
        if !expected.contains_key(object) {
            out.push(Difference {
                state: "extra",
                object: object.clone(),
                expected: None,
                actual: Some(have.clone()),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_finds_missing_extra_and_different() {
        let expected: Schema = [
            ("trigger t ON auth.users", "def"),
            ("function public.f()", "md5 a"),
            ("table public.x", "on"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        let actual: Schema = [
            ("function public.f()", "md5 b"),
            ("table public.x", "on"),
            ("column public.x.extra", "int"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        let differences = compare(&expected, &actual);
        let found: Vec<(&str, &str)> = differences
            .iter()
            .map(|d| (d.state, d.object.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                ("different", "function public.f()"),
                ("missing", "trigger t ON auth.users"),
                ("extra", "column public.x.extra")
            ]
        );
    }
}
