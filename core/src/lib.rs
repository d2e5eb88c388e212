//! Hakobu's pure domain, shared by the app, the engine, the runner and the wasm frontend.
//!
//! Nothing here does I/O or depends on tokio, so the browser validates a form with exactly
//! the rules the server applies.

/// Maps a closed set of words (an enum with `as_str` and `FromStr`) to a PostgreSQL
/// `text` column, for the server's diesel models.
macro_rules! text_sql_enum {
    ($($ty:ty),* $(,)?) => {$(
        #[cfg(feature = "diesel")]
        impl diesel::serialize::ToSql<diesel::sql_types::Text, diesel::pg::Pg> for $ty {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, diesel::pg::Pg>,
            ) -> diesel::serialize::Result {
                <str as diesel::serialize::ToSql<diesel::sql_types::Text, diesel::pg::Pg>>::to_sql(
                    self.as_str(),
                    out,
                )
            }
        }

        #[cfg(feature = "diesel")]
        impl diesel::deserialize::FromSql<diesel::sql_types::Text, diesel::pg::Pg> for $ty {
            fn from_sql(bytes: diesel::pg::PgValue<'_>) -> diesel::deserialize::Result<Self> {
                let text = <String as diesel::deserialize::FromSql<
                    diesel::sql_types::Text,
                    diesel::pg::Pg,
                >>::from_sql(bytes)?;
                Ok(text.parse()?)
            }
        }
    )*};
}
pub(crate) use text_sql_enum;

pub mod api;
pub mod authz;
pub mod config;
pub mod connection;
pub mod egress;
pub mod files;
pub mod http;
pub mod ids;
pub mod job;
pub mod messages;
pub mod progress;
pub mod retry;
pub mod schedule;
pub mod sql;
pub mod usage;
pub mod validation;
pub mod variables;
pub mod workflow;
pub mod zone;
