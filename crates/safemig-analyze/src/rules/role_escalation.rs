//! `role-escalation`: the API's roles given more than their policies allow.

use pg_query::NodeEnum;

use super::{Ctx, Hit, Rule, RuleDoc, Severity};

pub struct RoleEscalation;

static DOC: RuleDoc = RuleDoc {
    name: "role-escalation",
    severity: Severity::Risky,
    summary: "a role granted to anon/authenticated, ownership given to them, or a role made SUPERUSER or BYPASSRLS",
    what_it_does: "Finds `GRANT some_role TO anon` (or `authenticated`, `PUBLIC`), `ALTER ... OWNER TO anon` (or \
                   `authenticated`), and `CREATE ROLE`/`ALTER ROLE` with `SUPERUSER` or `BYPASSRLS`.",
    why_it_matters: "Row level security binds the API's roles only as long as they are what Supabase made them: a \
                     table's owner and a `BYPASSRLS` role skip every policy, and a role granted `service_role` \
                     inherits its power to. Any of these hands every row to whoever holds the public key (or signs \
                     up); a new superuser opens the whole database.",
    example: "GRANT service_role TO anon;",
    use_instead: "Grant the privileges the role needs on the objects it needs, and let policies decide the rows.",
};

const API_ROLES: &[&str] = &["anon", "authenticated"];

fn grants_power(options: &[pg_query::protobuf::Node]) -> Option<&'static str> {
    options.iter().find_map(|o| match o.node.as_ref() {
        Some(NodeEnum::DefElem(d))
            if matches!(d.defname.as_str(), "superuser" | "bypassrls") && super::option_on(d) =>
        {
            Some(if d.defname == "superuser" {
                "SUPERUSER"
            } else {
                "BYPASSRLS"
            })
        }
        _ => None,
    })
}

impl Rule for RoleEscalation {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        match ctx.node {
            NodeEnum::GrantRoleStmt(g) if g.is_grant => {
                let to: Vec<String> = super::role_names(&g.grantee_roles)
                    .into_iter()
                    .filter(|r| API_ROLES.contains(&r.as_str()) || r == "public")
                    .map(|r| if r == "public" { "PUBLIC".to_string() } else { r })
                    .collect();
                if to.is_empty() {
                    return Vec::new();
                }
                let granted: Vec<String> = g
                    .granted_roles
                    .iter()
                    .filter_map(|n| match n.node.as_ref() {
                        Some(NodeEnum::AccessPriv(p)) => Some(p.priv_name.clone()),
                        _ => None,
                    })
                    .collect();
                vec![Hit::new(format!(
                    "grants role {} to {}: they inherit its privileges, and past row level security if it bypasses it",
                    granted.join(", "),
                    to.join(", ")
                ))]
            }
            NodeEnum::AlterTableStmt(_) => super::alter_table_cmds(ctx.node)
                .into_iter()
                .filter(|(_, cmd)| super::cmd_type(cmd) == pg_query::protobuf::AlterTableType::AtChangeOwner)
                .filter_map(|(table, cmd)| {
                    let owner = cmd.newowner.as_ref().map(|o| o.rolename.to_ascii_lowercase())?;
                    API_ROLES.contains(&owner.as_str()).then(|| {
                        Hit::new(format!("makes {owner} the owner of `{table}`: an owner skips its row level security"))
                    })
                })
                .collect(),
            NodeEnum::AlterOwnerStmt(a) => {
                let owner = a.newowner.as_ref().map(|o| o.rolename.to_ascii_lowercase()).unwrap_or_default();
                if API_ROLES.contains(&owner.as_str()) {
                    vec![Hit::new(format!("makes {owner} the owner of an object: owners skip its permission checks"))]
                } else {
                    Vec::new()
                }
            }
            NodeEnum::CreateRoleStmt(r) => grants_power(&r.options)
                .map(|power| vec![Hit::new(format!("creates role `{}` with {power}: it skips every row level security policy", r.role))])
                .unwrap_or_default(),
            NodeEnum::AlterRoleStmt(r) => grants_power(&r.options)
                .map(|power| {
                    let name = r.role.as_ref().map(|s| s.rolename.clone()).unwrap_or_default();
                    vec![Hit::new(format!("gives role `{name}` {power}: it skips every row level security policy"))]
                })
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::fires;

    #[test]
    fn escalations_fire_and_ordinary_role_work_does_not() {
        assert!(fires(&RoleEscalation, "GRANT service_role TO anon;"));
        assert!(fires(
            &RoleEscalation,
            "ALTER TABLE public.orders OWNER TO anon;"
        ));
        assert!(fires(&RoleEscalation, "ALTER ROLE anon WITH BYPASSRLS;"));
        assert!(fires(
            &RoleEscalation,
            "CREATE ROLE backdoor WITH LOGIN SUPERUSER PASSWORD 'x';"
        ));
        assert!(!fires(&RoleEscalation, "CREATE ROLE reporting NOLOGIN;"));
        assert!(!fires(&RoleEscalation, "GRANT reporting TO analyst;"));
        assert!(!fires(
            &RoleEscalation,
            "ALTER TABLE public.orders OWNER TO postgres;"
        ));
    }
}
