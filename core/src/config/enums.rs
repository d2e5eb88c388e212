//! Closed sets of words (modes, types, policies) with errors that list the choices.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

macro_rules! word_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal, { $($(#[$vmeta:meta])* $variant:ident => $word:literal $(| $alias:literal)*),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every accepted word, in documentation order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The canonical config word.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $word),+ }
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($word $(| $alias)* => Ok($name::$variant),)+
                    _ => Err(format!(
                        concat!("unknown ", $what, " {:?}; expected one of {}"),
                        s,
                        [$($word),+].join(", ")
                    )),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

word_enum!(
    /// A load mode of a database output, with Embulk's names and semantics.
    Mode, "mode", {
        /// Stage into an intermediate table, then `INSERT INTO target SELECT` in one transaction.
        Insert => "insert",
        /// Write straight into the target; a failure leaves the rows loaded so far.
        InsertDirect => "insert_direct",
        /// Stage, then delete all target rows and insert the staged ones in one transaction.
        TruncateInsert => "truncate_insert",
        /// Stage into a new table, then drop the target and rename the new table in one transaction.
        Replace => "replace",
        /// Stage, then upsert on `merge_keys` in one transaction.
        Merge => "merge",
        /// Upsert straight into the target batch by batch (not atomic).
        MergeDirect => "merge_direct",
        /// Stage, then delete the target rows whose `merge_keys` match a staged row (or
        /// that match `delete_where`) and insert the staged ones, in one transaction.
        DeleteInsert => "delete_insert",
    }
);

impl Mode {
    /// Whether a failed run leaves the target exactly as it was.
    pub fn is_transactional(self) -> bool {
        !matches!(self, Mode::InsertDirect | Mode::MergeDirect)
    }
}

word_enum!(
    /// A column type: Embulk's six plus exact decimal, date and bytes.
    ColumnType, "type", {
        /// true / false.
        Boolean => "boolean",
        /// 64-bit signed integer.
        Long => "long",
        /// 64-bit float.
        Double => "double",
        /// UTF-8 text.
        String => "string",
        /// An instant (zones apply only when parsing or formatting).
        Timestamp => "timestamp",
        /// A JSON value.
        Json => "json",
        /// An exact decimal number, kept as its decimal text.
        Decimal => "decimal",
        /// A calendar date.
        Date => "date",
        /// Raw bytes.
        Bytes => "bytes",
    }
);

word_enum!(
    /// How a database input reads a column (`column_options.<c>.value_type`), Embulk's
    /// words: the column is converted in the select list (a cast) and read as that kind;
    /// its pipeline type follows unless `type` is given.
    ValueType, "value_type", {
        /// The column's own type (Embulk's default).
        Coalesce => "coalesce",
        /// A 64-bit integer.
        Long => "long",
        /// A single-precision float, read into a double.
        Float => "float",
        /// A double.
        Double => "double",
        /// An exact decimal number.
        Decimal => "decimal",
        /// true / false.
        Boolean => "boolean",
        /// Text: the server's text form of the value.
        String => "string",
        /// A JSON value.
        Json => "json",
        /// A calendar date.
        Date => "date",
        /// A time of day, read as text (`HH:MM:SS`): Hakobu has no time-of-day type.
        Time => "time",
        /// A timestamp.
        Timestamp => "timestamp",
    }
);

impl ValueType {
    /// The pipeline type a column read this way gets when `type` is not given (`None`
    /// for `coalesce`: the column's own).
    pub fn column_type(self) -> Option<ColumnType> {
        Some(match self {
            ValueType::Coalesce => return None,
            ValueType::Long => ColumnType::Long,
            ValueType::Float | ValueType::Double => ColumnType::Double,
            ValueType::Decimal => ColumnType::Decimal,
            ValueType::Boolean => ColumnType::Boolean,
            ValueType::String | ValueType::Time => ColumnType::String,
            ValueType::Json => ColumnType::Json,
            ValueType::Date => ColumnType::Date,
            ValueType::Timestamp => ColumnType::Timestamp,
        })
    }
}

word_enum!(
    /// Line separator of text files.
    Newline, "newline", {
        /// `\r\n`
        Crlf => "CRLF",
        /// `\n`
        Lf => "LF",
        /// `\r`
        Cr => "CR",
    }
);

impl Newline {
    /// The separator's bytes.
    pub fn bytes(self) -> &'static [u8] {
        match self {
            Newline::Crlf => b"\r\n",
            Newline::Lf => b"\n",
            Newline::Cr => b"\r",
        }
    }
}

word_enum!(
    /// When the CSV formatter quotes a value.
    QuotePolicy, "quote_policy", {
        /// Every value.
        All => "ALL",
        /// Only values that contain the delimiter, the quote or a newline.
        Minimal => "MINIMAL",
        /// Never (values with special characters are escaped instead).
        None => "NONE",
    }
);

word_enum!(
    /// How the CSV parser reads a quote inside a quoted value (Embulk's
    /// `quotes_in_quoted_fields`).
    QuotesInQuotedFields, "quotes_in_quoted_fields", {
        /// Only doubled or escaped quotes (RFC 4180), Embulk's default.
        AcceptOnlyRfc4180Escaped => "ACCEPT_ONLY_RFC4180_ESCAPED",
        /// A lone quote is kept as text when no delimiter follows it (not supported).
        AcceptStrayQuotes => "ACCEPT_STRAY_QUOTES_ASSUMING_NO_DELIMITERS_IN_FIELDS",
    }
);

word_enum!(
    /// A byte-stream codec for `decoders:` / `encoders:`.
    Codec, "codec", {
        /// gzip (`.gz`).
        Gzip => "gzip",
        /// bzip2 (`.bz2`).
        Bzip2 => "bzip2",
    }
);

word_enum!(
    /// How the mask filter hides a value.
    MaskType, "mask type", {
        /// Hex SHA-256 of the value (stable: same input, same output, so joins still work).
        Sha256 => "sha256",
        /// Every character replaced by the mask character.
        All => "all",
        /// Keep `keep_head` / `keep_tail` characters and mask the middle.
        Partial => "partial",
    }
);

word_enum!(
    /// How a database connection is encrypted (`ssl_mode`). The aliases are the words of
    /// JDBC drivers' `sslmode` / `sslMode` options, so Embulk configs keep working.
    TlsMode, "ssl_mode", {
        /// Plain, unencrypted connection.
        Disable => "disable" | "DISABLED",
        /// Encrypt when the server offers TLS, otherwise connect unencrypted.
        Prefer => "prefer" | "allow" | "PREFERRED",
        /// Encrypt; do not check the server's certificate (protects against eavesdropping,
        /// not against a server impersonating the real one).
        Require => "require" | "enable" | "REQUIRED",
        /// Encrypt and check that the certificate is signed by a trusted authority, but not
        /// which host name it names.
        VerifyCa => "verify-ca" | "VERIFY_CA",
        /// Encrypt, check the certificate's authority and that it names the host connected to.
        VerifyFull => "verify-full" | "verify" | "VERIFY_IDENTITY",
    }
);

impl TlsMode {
    /// Whether the server's certificate is checked against trusted authorities.
    pub fn verifies(self) -> bool {
        matches!(self, TlsMode::VerifyCa | TlsMode::VerifyFull)
    }
}

word_enum!(
    /// A load mode of the BigQuery output, with embulk-output-bigquery's names, plus merge.
    BigqueryMode, "mode", {
        /// Load into a temporary table, then append it to the target in one copy job.
        Append => "append",
        /// Load straight into the target; a failed load job adds nothing, but there is no
        /// temporary table.
        AppendDirect => "append_direct",
        /// Load into a temporary table, then copy it over the target (rows and schema) in
        /// one copy job.
        Replace => "replace",
        /// Empty the target first (a separate job), then load straight into it: a failed
        /// run leaves it empty.
        DeleteInAdvance => "delete_in_advance",
        /// Load into a temporary table, then one `MERGE` on `merge_keys`.
        Merge => "merge",
    }
);

impl BigqueryMode {
    /// Whether a failed run leaves the target exactly as it was.
    pub fn is_transactional(self) -> bool {
        !matches!(self, BigqueryMode::DeleteInAdvance)
    }
}
