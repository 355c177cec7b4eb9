//! Queries prepared once per connection.
//!
//! An unprepared query costs PostgreSQL a parse and a plan, and the driver one
//! more round trip (it prepares, then executes); the guard runs the same few
//! dozen queries around every migration, several of them while the migration's
//! locks are held. Prepared once per run, each later use is one round trip and
//! no planning (the guard plans generic: `plan_cache_mode`). PostgreSQL analyses
//! a prepared statement again by itself when the search_path or the objects it
//! reads changed, so a cached statement means what a fresh one would.
//!
//! A statement belongs to the connection that prepared it: one `Queries` per
//! connection.
//!
//! A migration runs in the same session, and plain SQL reaches these statements
//! by name: `DEALLOCATE` drops one, `PREPARE` makes another under its name,
//! which the guard would then execute (a forged "nothing was touched").
//! [`Queries::tampered`] finds that before anything the guard read is trusted.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use postgres::types::{ToSql, Type};
use postgres::{GenericClient, Row, Statement};

/// Clones share one cache (the connection's).
#[derive(Debug, Default, Clone)]
pub struct Queries {
    prepared: Rc<RefCell<HashMap<String, Statement>>>,
}

impl Queries {
    pub fn new() -> Queries {
        Queries::default()
    }

    /// `sql` prepared on this connection, the first time it is asked for.
    pub fn statement(
        &self,
        client: &mut impl GenericClient,
        sql: &str,
    ) -> Result<Statement, postgres::Error> {
        if let Some(statement) = self.prepared.borrow().get(sql) {
            return Ok(statement.clone());
        }
        let statement = client.prepare(sql)?;
        self.prepared
            .borrow_mut()
            .insert(sql.to_string(), statement.clone());
        Ok(statement)
    }

    /// How many of the statements prepared here are gone or no longer this
    /// cache's: dropped by `DEALLOCATE`, or made again by SQL's `PREPARE` under
    /// the same name. A statement prepared through the protocol (as these are)
    /// shows `from_sql = false` and its text as sent; SQL cannot make one. Read
    /// through the unnamed statement, which SQL cannot reach either.
    pub fn tampered(&self, client: &mut impl GenericClient) -> Result<i64, postgres::Error> {
        let texts: Vec<String> = self.prepared.borrow().keys().cloned().collect();
        if texts.is_empty() {
            return Ok(0);
        }
        let rows = client.query_typed(
            "SELECT pg_catalog.count(*) FROM pg_catalog.unnest($1::pg_catalog.text[]) AS t \
             WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_prepared_statements p \
                               WHERE p.statement OPERATOR(pg_catalog.=) t AND NOT p.from_sql)",
            &[(&texts, Type::TEXT_ARRAY)],
        )?;
        Ok(rows.first().map_or(0, |r| r.get(0)))
    }

    /// Forgets every statement, once [`Queries::tampered`] found some: each
    /// is prepared again, under a fresh name, when next asked for.
    pub fn forget_all(&self) {
        self.prepared.borrow_mut().clear();
    }

    /// A statement SQL dropped (`DEALLOCATE`) fails this use, and would fail
    /// every later one: the cache is forgotten, to be prepared anew.
    fn dropped_by_sql<T>(&self, result: Result<T, postgres::Error>) -> Result<T, postgres::Error> {
        if let Err(e) = &result {
            if e.code() == Some(&postgres::error::SqlState::INVALID_SQL_STATEMENT_NAME) {
                self.forget_all();
            }
        }
        result
    }

    pub fn query(
        &self,
        client: &mut impl GenericClient,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, postgres::Error> {
        let statement = self.statement(client, sql)?;
        self.dropped_by_sql(client.query(&statement, params))
    }

    pub fn query_one(
        &self,
        client: &mut impl GenericClient,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Row, postgres::Error> {
        let statement = self.statement(client, sql)?;
        self.dropped_by_sql(client.query_one(&statement, params))
    }

    pub fn query_opt(
        &self,
        client: &mut impl GenericClient,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, postgres::Error> {
        let statement = self.statement(client, sql)?;
        self.dropped_by_sql(client.query_opt(&statement, params))
    }

    pub fn execute(
        &self,
        client: &mut impl GenericClient,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, postgres::Error> {
        let statement = self.statement(client, sql)?;
        self.dropped_by_sql(client.execute(&statement, params))
    }
}
