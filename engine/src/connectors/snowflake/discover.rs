//! Reading a Snowflake database for the app's forms and for data checks: the SQL of the
//! listings. Their statements run through `Session::execute`, whose answers are read
//! within `limits::WAREHOUSE_ANSWER_MAX_BYTES` like every answer of a warehouse.
//!
//! Listings query the database's `INFORMATION_SCHEMA` views with a `LIMIT`, not `SHOW`
//! commands: a view is filtered and limited by the server like any query, shows only what
//! the session's role may use, and the local emulator (fakesnow) answers the views too.

use super::writer::ident;

/// A text literal: Snowflake reads a backslash in `'...'` as an escape, so it is doubled
/// like the quote.
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

/// The name as Snowflake stores it: a plain name (what [`ident`] upper-cases) in upper
/// case, any other as written. Listings compare the views' columns with it.
pub fn stored_name(name: &str) -> String {
    let quoted = ident(name);
    quoted[1..quoted.len() - 1].replace("\"\"", "\"")
}

/// `SELECT` of the schemas of `database` (without `INFORMATION_SCHEMA` itself).
pub fn schemas_sql(database: &str, limit: usize) -> String {
    format!(
        "SELECT schema_name FROM {}.INFORMATION_SCHEMA.SCHEMATA WHERE schema_name <> 'INFORMATION_SCHEMA' ORDER BY 1 LIMIT {limit}",
        ident(database)
    )
}

/// `SELECT` of the tables and views of a schema.
pub fn tables_sql(database: &str, schema: &str, limit: usize) -> String {
    format!(
        "SELECT table_name FROM {}.INFORMATION_SCHEMA.TABLES WHERE table_schema = {} ORDER BY 1 LIMIT {limit}",
        ident(database),
        literal(&stored_name(schema))
    )
}

/// `SELECT` of a table's columns: name, type, `YES`/`NO` nullable, in table order.
pub fn columns_sql(database: &str, schema: &str, table: &str, limit: usize) -> String {
    format!(
        "SELECT column_name, data_type, is_nullable FROM {}.INFORMATION_SCHEMA.COLUMNS WHERE table_schema = {} AND table_name = {} ORDER BY ordinal_position LIMIT {limit}",
        ident(database),
        literal(&stored_name(schema)),
        literal(&stored_name(table))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_the_listings_are_literals_as_stored() {
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(literal("a\\' OR 1=1 --"), "'a\\\\'' OR 1=1 --'");
        assert_eq!(stored_name("public"), "PUBLIC");
        assert_eq!(stored_name("Mixed Case"), "Mixed Case");
        assert!(tables_sql("db", "x' OR '1'='1", 5).contains("= 'x'' OR ''1''=''1'"));
    }
}
