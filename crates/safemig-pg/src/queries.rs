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

use std::cell::RefCell;
use std::collections::HashMap;

use postgres::types::ToSql;
use postgres::{GenericClient, Row, Statement};

#[derive(Debug, Default, Clone)]
pub struct Queries {
    prepared: RefCell<HashMap<String, Statement>>,
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

    pub fn query(
        &self,
        client: &mut impl GenericClient,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, postgres::Error> {
        let statement = self.statement(client, sql)?;
        client.query(&statement, params)
    }

    pub fn query_one(
        &self,
        client: &mut impl GenericClient,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Row, postgres::Error> {
        let statement = self.statement(client, sql)?;
        client.query_one(&statement, params)
    }

    pub fn query_opt(
        &self,
        client: &mut impl GenericClient,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, postgres::Error> {
        let statement = self.statement(client, sql)?;
        client.query_opt(&statement, params)
    }

    pub fn execute(
        &self,
        client: &mut impl GenericClient,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, postgres::Error> {
        let statement = self.statement(client, sql)?;
        client.execute(&statement, params)
    }
}
