//! PostgreSQL's run-time parameters as recsql has them: each one's name, default, type and
//! description (for `pg_settings`, `SHOW ALL` and `current_setting`), which ones a session may
//! change, how the values of `SET`, `SHOW` and `RESET` are read, checked and written, and a
//! session's search path.
//!
//! It keeps no state. A connection's values live in its client metadata (a map the wire layer
//! hands in), under each parameter's lower-case name: where pgwire reads `datestyle`,
//! `intervalstyle`, `bytea_output` and `extra_float_digits` for its text output. Startup
//! parameters sit in the same map under the names the client sent (`DateStyle` from pgjdbc).

use std::collections::HashMap;

use crate::error::{Error, Result, sqlstate};

/// The server version recsql reports (startup parameters, `version()`, `server_version`):
/// the PostgreSQL version whose protocol and catalogs datafusion-postgres follows, and
/// recsql's own.
pub const SERVER_VERSION: &str = concat!("16.6 (recsql ", env!("CARGO_PKG_VERSION"), ")");

/// The schema unqualified names resolve in when the search path names none that exists.
pub const DEFAULT_SEARCH_PATH: &str = "mindsdb";

/// How dates print by default: ISO, with month before day where an order applies.
pub const DEFAULT_DATE_STYLE: &str = "ISO, MDY";

/// A connection's client metadata: startup parameters and the values its SETs gave.
pub type Metadata = HashMap<String, String>;

/// One run-time parameter.
#[derive(Debug)]
pub struct Parameter {
    /// Its name as PostgreSQL spells it (`DateStyle`), which SHOW uses for its column.
    pub name: &'static str,
    pub default: &'static str,
    /// `pg_settings.vartype`: bool, integer, real, string or enum.
    pub vartype: &'static str,
    pub description: &'static str,
    /// Whether a session may SET it; the others describe the server.
    pub settable: bool,
}

/// A parameter of the server, which sessions read but cannot SET.
const fn fixed(
    name: &'static str,
    default: &'static str,
    vartype: &'static str,
    description: &'static str,
) -> Parameter {
    session(name, default, vartype, description).server_only()
}

/// A parameter that a session may SET.
const fn session(
    name: &'static str,
    default: &'static str,
    vartype: &'static str,
    description: &'static str,
) -> Parameter {
    Parameter {
        name,
        default,
        vartype,
        description,
        settable: true,
    }
}

impl Parameter {
    const fn server_only(self) -> Parameter {
        Parameter {
            settable: false,
            ..self
        }
    }
}

/// The parameters recsql knows, by name. Values hold for recsql: settings that PostgreSQL
/// has and recsql does not act on (`work_mem`, `jit`) keep PostgreSQL's defaults, so that
/// clients that read or set them work.
pub const PARAMETERS: &[Parameter] = &[
    session(
        "application_name",
        "",
        "string",
        "Sets the application name to be reported in statistics and logs.",
    ),
    fixed(
        "block_size",
        "8192",
        "integer",
        "Shows the size of a disk block.",
    ),
    session(
        "bytea_output",
        "hex",
        "enum",
        "Sets the output format for bytea.",
    ),
    session(
        "check_function_bodies",
        "on",
        "bool",
        "Check routine bodies during CREATE FUNCTION and CREATE PROCEDURE.",
    ),
    session(
        "client_encoding",
        "UTF8",
        "string",
        "Sets the client's character set encoding.",
    ),
    session(
        "client_min_messages",
        "notice",
        "enum",
        "Sets the message levels that are sent to the client.",
    ),
    session(
        "DateStyle",
        DEFAULT_DATE_STYLE,
        "string",
        "Sets the display format for date and time values.",
    ),
    session(
        "default_table_access_method",
        "heap",
        "string",
        "Sets the default table access method for new tables.",
    ),
    session(
        "default_transaction_isolation",
        "read committed",
        "enum",
        "Sets the transaction isolation level of each new transaction.",
    ),
    session(
        "default_transaction_read_only",
        "off",
        "bool",
        "Sets the default read-only status of new transactions.",
    ),
    session(
        "extra_float_digits",
        "1",
        "integer",
        "Sets the number of digits displayed for floating-point values.",
    ),
    session(
        "idle_in_transaction_session_timeout",
        "0",
        "integer",
        "Sets the maximum allowed idle time between queries, when in a transaction.",
    ),
    fixed(
        "integer_datetimes",
        "on",
        "bool",
        "Shows whether datetimes are integer based.",
    ),
    session(
        "IntervalStyle",
        "postgres",
        "enum",
        "Sets the display format for interval values.",
    ),
    fixed(
        "is_superuser",
        "on",
        "bool",
        "Shows whether the current user is a superuser.",
    ),
    session(
        "jit",
        "off",
        "bool",
        "Allow JIT compilation (recsql has none).",
    ),
    fixed(
        "lc_collate",
        "C.UTF-8",
        "string",
        "Shows the collation order locale.",
    ),
    fixed(
        "lc_ctype",
        "C.UTF-8",
        "string",
        "Shows the character classification and case conversion locale.",
    ),
    session(
        "lc_messages",
        "C.UTF-8",
        "string",
        "Sets the language in which messages are displayed.",
    ),
    session(
        "lc_monetary",
        "C.UTF-8",
        "string",
        "Sets the locale for formatting monetary amounts.",
    ),
    session(
        "lc_numeric",
        "C.UTF-8",
        "string",
        "Sets the locale for formatting numbers.",
    ),
    session(
        "lc_time",
        "C.UTF-8",
        "string",
        "Sets the locale for formatting date and time values.",
    ),
    session(
        "lock_timeout",
        "0",
        "integer",
        "Sets the maximum allowed duration of any wait for a lock.",
    ),
    fixed(
        "max_identifier_length",
        "63",
        "integer",
        "Shows the maximum identifier length.",
    ),
    fixed(
        "max_index_keys",
        "32",
        "integer",
        "Shows the maximum number of index keys.",
    ),
    session("row_security", "on", "bool", "Enable row security."),
    session(
        "search_path",
        DEFAULT_SEARCH_PATH,
        "string",
        "Sets the schema search order for names that are not schema-qualified.",
    ),
    fixed(
        "server_encoding",
        "UTF8",
        "string",
        "Shows the server (database) character set encoding.",
    ),
    fixed(
        "server_version",
        SERVER_VERSION,
        "string",
        "Shows the server version.",
    ),
    fixed(
        "server_version_num",
        "160006",
        "integer",
        "Shows the server version as an integer.",
    ),
    fixed(
        "session_authorization",
        "",
        "string",
        "Shows the session user name.",
    ),
    session(
        "standard_conforming_strings",
        "on",
        "bool",
        "Causes '...' strings to treat backslashes literally.",
    ),
    session(
        "statement_timeout",
        "0",
        "integer",
        "Sets the maximum allowed duration of any statement.",
    ),
    session(
        "synchronous_commit",
        "on",
        "enum",
        "Sets the current transaction's synchronization level.",
    ),
    session(
        "TimeZone",
        "Etc/UTC",
        "string",
        "Sets the time zone for displaying and interpreting time stamps.",
    ),
    session(
        "transaction_isolation",
        "read committed",
        "enum",
        "Sets the current transaction's isolation level.",
    ),
    session(
        "transaction_read_only",
        "off",
        "bool",
        "Sets the current transaction's read-only status.",
    ),
    session(
        "work_mem",
        "4MB",
        "integer",
        "Sets the maximum memory to be used for query workspaces.",
    ),
    session(
        "xmloption",
        "content",
        "enum",
        "Sets whether XML data in implicit parsing and serialization operations is to be considered as documents or content fragments.",
    ),
];

/// The parameters whose changes PostgreSQL reports to the client (ParameterStatus).
const REPORTED: &[&str] = &[
    "application_name",
    "client_encoding",
    "DateStyle",
    "IntervalStyle",
    "standard_conforming_strings",
    "TimeZone",
];

/// Where the session keeps the time zone (the name datafusion-postgres reads it by).
const TIME_ZONE_KEY: &str = "timezone";

/// The parameters that are durations, kept in milliseconds.
const MILLISECOND_PARAMETERS: [&str; 3] = [
    "statement_timeout",
    "lock_timeout",
    "idle_in_transaction_session_timeout",
];

/// The session's `statement_timeout`, where it has one (0 is none).
pub fn statement_timeout(metadata: &Metadata) -> Option<std::time::Duration> {
    let ms: u64 = metadata.get("statement_timeout")?.parse().ok()?;
    (ms > 0).then(|| std::time::Duration::from_millis(ms))
}

/// The key under which a session keeps the value a parameter had before its first SET.
fn startup_key(name: &str) -> String {
    format!("recsql.startup.{name}")
}

/// The parameter called `name` (any case).
pub fn parameter(name: &str) -> Option<&'static Parameter> {
    PARAMETERS
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(name))
}

/// The error for a name that is no parameter (42704), as PostgreSQL words it.
pub fn unrecognized(name: &str) -> Error {
    Error::new(
        sqlstate::UNDEFINED_OBJECT,
        format!("unrecognized configuration parameter \"{name}\""),
    )
}

/// `name` as one word: SHOW's spellings with spaces (`time zone`, `transaction isolation
/// level`, `session authorization`) become the parameter's.
pub fn canonical(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    match lower.split_whitespace().collect::<Vec<_>>().as_slice() {
        ["time", "zone"] => "timezone".into(),
        ["transaction", "isolation", "level"] => "transaction_isolation".into(),
        ["session", "authorization"] => "session_authorization".into(),
        _ => lower,
    }
}

/// The value `name` has in the session of `metadata`, with the name SHOW gives its column;
/// `None` for a name that is neither a parameter nor set in this session.
pub fn value(metadata: &Metadata, name: &str) -> Option<(String, String)> {
    let lower = canonical(name);
    let known = parameter(&lower);
    let shown = known.map_or_else(|| lower.clone(), |p| p.name.to_string());
    let get = |key: &str| {
        metadata.get(key).cloned().or_else(|| {
            metadata
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.clone())
        })
    };
    let value = match lower.as_str() {
        _ if MILLISECOND_PARAMETERS.contains(&lower.as_str()) => {
            metadata.get(&lower).map(|ms| duration_text(ms))
        }
        "timezone" => get(TIME_ZONE_KEY),
        "session_authorization" => get("user"),
        _ => get(&lower),
    };
    match (value, known) {
        (Some(v), _) => Some((shown, v)),
        (None, Some(p)) => Some((shown, p.default.to_string())),
        (None, None) => None,
    }
}

/// Milliseconds as PostgreSQL shows a duration: `0`, `250ms`, `5s`, `2min`.
fn duration_text(ms: &str) -> String {
    match ms.parse::<u64>() {
        Ok(0) => "0".into(),
        Ok(ms) if ms % 86_400_000 == 0 => format!("{}d", ms / 86_400_000),
        Ok(ms) if ms % 3_600_000 == 0 => format!("{}h", ms / 3_600_000),
        Ok(ms) if ms % 60_000 == 0 => format!("{}min", ms / 60_000),
        Ok(ms) if ms % 1000 == 0 => format!("{}s", ms / 1000),
        Ok(ms) => format!("{ms}ms"),
        Err(_) => ms.to_string(),
    }
}

/// Whether `name` is one of DataFusion's options (`datafusion.execution.batch_size`), which
/// the whole server shares: a session's SET of one changed every connection's queries.
pub fn is_server_option(name: &str) -> bool {
    name.starts_with("datafusion.")
}

/// The value of DataFusion's option `name` in `options`, as SHOW prints it (empty when
/// unset); None if there is no such option.
pub fn server_option(options: &datafusion::config::ConfigOptions, name: &str) -> Option<String> {
    options
        .entries()
        .into_iter()
        .find(|e| e.key.eq_ignore_ascii_case(name))
        .map(|e| e.value.unwrap_or_default())
}

/// `SHOW ALL`: every parameter with its value in this session and description, by name.
pub fn all(metadata: &Metadata) -> Vec<(String, String, String)> {
    let mut rows: Vec<(String, String, String)> = PARAMETERS
        .iter()
        .filter_map(|p| {
            let (_, v) = value(metadata, p.name)?;
            Some((p.name.to_string(), v, p.description.to_string()))
        })
        .collect();
    rows.sort_by_key(|r| r.0.to_ascii_lowercase());
    rows
}

/// One value of a SET, as written.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string literal's contents.
    Text(String),
    /// A word or number: an unquoted identifier, a keyword such as ON, `-2`.
    Word(String),
    /// A double-quoted identifier (`"$user"`).
    Quoted(String),
}

impl Value {
    fn text(&self) -> &str {
        match self {
            Value::Text(s) | Value::Word(s) | Value::Quoted(s) => s,
        }
    }
}

/// SET, SHOW and RESET of a run-time parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `SHOW name`, or `SHOW ALL` (None).
    Show(Option<String>),
    /// `SET [SESSION | LOCAL] name {= | TO} value [, ...]`; None for `DEFAULT`.
    Set {
        name: String,
        values: Option<Vec<Value>>,
    },
    /// `RESET name`, or `RESET ALL` (None).
    Reset(Option<String>),
}

impl Command {
    /// The command of `sql`, if it is one of these and recsql answers it. `SET TIME ZONE`,
    /// `statement_timeout` and transaction or role settings are left to datafusion-postgres'
    /// handling, which acts on them. DataFusion's options (`datafusion.*`) are recsql's: the
    /// server's, shown but not changed (see `apply`).
    pub fn parse(sql: &str) -> Option<Command> {
        use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
        use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
        let tokens: Vec<Token> = Tokenizer::new(&PostgreSqlDialect {}, sql)
            .tokenize()
            .ok()?
            .into_iter()
            .filter(|t| !matches!(t, Token::Whitespace(_) | Token::SemiColon))
            .collect();
        let word = |i: usize| match tokens.get(i) {
            Some(Token::Word(w)) if w.quote_style.is_none() => Some(w.value.to_ascii_lowercase()),
            _ => None,
        };
        let first = word(0)?;
        // A dotted name (`datafusion.execution.batch_size`) as one string, and where it ends.
        let name_at = |mut i: usize| -> Option<(String, usize)> {
            let mut name = match tokens.get(i)? {
                Token::Word(w) => w.value.to_ascii_lowercase(),
                _ => return None,
            };
            i += 1;
            while tokens.get(i) == Some(&Token::Period) {
                match tokens.get(i + 1)? {
                    Token::Word(w) => name.push_str(&format!(".{}", w.value.to_ascii_lowercase())),
                    _ => return None,
                }
                i += 2;
            }
            Some((name, i))
        };
        match first.as_str() {
            "show" => {
                let (name, end) = name_at(1)?;
                if end == tokens.len() {
                    return match name.as_str() {
                        "all" => Some(Command::Show(None)),
                        _ => Some(Command::Show(Some(name))),
                    };
                }
                // `SHOW time zone`, `SHOW transaction isolation level`.
                let words: Vec<String> = (1..tokens.len()).map(word).collect::<Option<_>>()?;
                let words = words.join(" ");
                let name = canonical(&words);
                (name != words).then_some(Command::Show(Some(name)))
            }
            "reset" => {
                // RESET TIME ZONE and RESET timezone are recsql's: datafusion-postgres kept
                // the zone that was set.
                let words: Option<Vec<String>> = (1..tokens.len()).map(word).collect();
                if words.is_some_and(|w| canonical(&w.join(" ")) == "timezone") {
                    return Some(Command::Reset(Some("timezone".into())));
                }
                let (name, end) = name_at(1)?;
                if end != tokens.len() {
                    return None;
                }
                Some(Command::Reset((name != "all").then_some(name)))
            }
            "set" => {
                let mut i = 1;
                if matches!(word(1).as_deref(), Some("session" | "local")) {
                    i = 2;
                }
                if matches!(
                    word(i).as_deref(),
                    Some(
                        "transaction"
                            | "role"
                            | "constraints"
                            | "characteristics"
                            | "authorization"
                    )
                ) {
                    return None;
                }
                if word(i).as_deref() == Some("names") {
                    let values = values_at(&tokens, i + 1)?;
                    return Some(Command::Set {
                        name: "client_encoding".into(),
                        values,
                    });
                }
                let (name, end) = name_at(i)?;
                // SET TIME ZONE value, where DEFAULT and LOCAL are a RESET.
                if name == "time" && word(end).as_deref() == Some("zone") {
                    if tokens.len() == end + 2
                        && matches!(word(end + 1).as_deref(), Some("default" | "local"))
                    {
                        return Some(Command::Reset(Some("timezone".into())));
                    }
                    let values = values_at(&tokens, end + 1)?;
                    return Some(Command::Set {
                        name: "timezone".into(),
                        values,
                    });
                }
                let assigns = match tokens.get(end) {
                    Some(Token::Eq) => true,
                    Some(Token::Word(w)) => w.value.eq_ignore_ascii_case("to"),
                    _ => false,
                };
                if !assigns {
                    return None;
                }
                let values = values_at(&tokens, end + 1)?;
                Some(Command::Set { name, values })
            }
            _ => None,
        }
    }
}

/// The comma-separated values from token `i` to the end; `Some(None)` for `DEFAULT`.
fn values_at(
    tokens: &[datafusion::sql::sqlparser::tokenizer::Token],
    i: usize,
) -> Option<Option<Vec<Value>>> {
    use datafusion::sql::sqlparser::tokenizer::Token;
    let rest = tokens.get(i..)?;
    if let [Token::Word(w)] = rest
        && w.quote_style.is_none()
        && w.value.eq_ignore_ascii_case("default")
    {
        return Some(None);
    }
    let mut values = Vec::new();
    let mut tokens = rest.iter().peekable();
    loop {
        let sign = match tokens.peek() {
            Some(Token::Minus) => "-",
            Some(Token::Plus) => "+",
            _ => "",
        };
        if !sign.is_empty() {
            tokens.next();
        }
        let value = match tokens.next()? {
            Token::Number(n, _) => Value::Word(format!("{}{n}", sign.trim_start_matches('+'))),
            _ if !sign.is_empty() => return None,
            Token::SingleQuotedString(s) | Token::EscapedStringLiteral(s) => Value::Text(s.clone()),
            Token::Word(w) if w.quote_style == Some('"') => Value::Quoted(w.value.clone()),
            Token::Word(w) => Value::Word(w.value.clone()),
            _ => return None,
        };
        values.push(value);
        match tokens.next() {
            None => return Some(Some(values)),
            Some(Token::Comma) => {}
            Some(_) => return None,
        }
    }
}

fn invalid(name: &str, value: &str) -> Error {
    Error::new(
        sqlstate::INVALID_PARAMETER_VALUE,
        format!("invalid value for parameter \"{name}\": \"{value}\""),
    )
}

/// A duration as PostgreSQL reads one for a parameter in milliseconds (`5000`, `'5s'`,
/// `'1.5min'`, `'250ms'`; units `us`, `ms`, `s`, `min`, `h`, `d`), in whole milliseconds.
fn milliseconds(name: &str, value: &str) -> Result<String> {
    let text = value.trim();
    let number_end = text
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+')))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(number_end);
    let scale = match unit.trim() {
        "" | "ms" => 1.0,
        "us" => 0.001,
        "s" => 1e3,
        "min" => 6e4,
        "h" => 3.6e6,
        "d" => 8.64e7,
        _ => {
            return Err(invalid(name, value).with_hint(
                "Valid units for this parameter are \"us\", \"ms\", \"s\", \"min\", \"h\", and \"d\".",
            ));
        }
    };
    let number: f64 = number.parse().map_err(|_| invalid(name, value))?;
    let ms = (number * scale).round();
    if !(0.0..=f64::from(i32::MAX)).contains(&ms) {
        return Err(Error::new(
            sqlstate::INVALID_PARAMETER_VALUE,
            format!(
                "{ms} ms is outside the valid range for parameter \"{name}\" (0 .. 2147483647)"
            ),
        ));
    }
    Ok((ms as i64).to_string())
}

/// A boolean as PostgreSQL reads one, written `on` or `off`.
fn boolean(name: &str, value: &str) -> Result<String> {
    match value.to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" | "1" | "t" | "y" => Ok("on".into()),
        "off" | "false" | "no" | "0" | "f" | "n" => Ok("off".into()),
        _ => Err(invalid(name, value)),
    }
}

/// `ISO`, `German, DMY`, `euro` ... as `Style, Order`, over the session's current value.
fn date_style(current: &str, values: &[Value]) -> Result<String> {
    let mut parts = current.split(',').map(str::trim);
    let mut style = parts.next().unwrap_or("ISO").to_string();
    let mut order = parts.next().unwrap_or("MDY").to_string();
    for part in values.iter().flat_map(|v| v.text().split(',')) {
        match part.trim().to_ascii_lowercase().as_str() {
            "iso" => style = "ISO".into(),
            "sql" => style = "SQL".into(),
            "postgres" => style = "Postgres".into(),
            "german" => style = "German".into(),
            "ymd" => order = "YMD".into(),
            "dmy" | "euro" | "european" => order = "DMY".into(),
            "mdy" | "us" | "noneuro" | "noneuropean" => order = "MDY".into(),
            "default" => {}
            _ => {
                let all: Vec<&str> = values.iter().map(Value::text).collect();
                return Err(invalid("DateStyle", &all.join(", ")));
            }
        }
    }
    Ok(format!("{style}, {order}"))
}

/// The text a SET stores for `values` of parameter `name`, checked as PostgreSQL checks
/// the parameters whose values recsql acts on.
fn checked(metadata: &Metadata, name: &str, values: &[Value]) -> Result<String> {
    let single = || -> Result<&str> {
        match values {
            [v] => Ok(v.text()),
            _ => Err(Error::new(
                sqlstate::INVALID_PARAMETER_VALUE,
                format!("SET {name} takes only one argument"),
            )),
        }
    };
    let param = parameter(name);
    Ok(match name {
        "search_path" => values
            .iter()
            .map(|v| match v {
                Value::Quoted(s) => format!("\"{s}\""),
                Value::Word(s) => s.to_ascii_lowercase(),
                Value::Text(s) => s.clone(),
            })
            .collect::<Vec<_>>()
            .join(", "),
        "timezone" => {
            let v = single()?;
            let wanted = v.trim();
            let zone = wanted
                .parse::<chrono_tz::Tz>()
                .ok()
                .or_else(|| {
                    chrono_tz::TZ_VARIANTS
                        .iter()
                        .copied()
                        .find(|z| z.name().eq_ignore_ascii_case(wanted))
                })
                .ok_or_else(|| {
                    invalid("TimeZone", v).with_hint(
                    "Name a zone of the IANA database: 'UTC', 'Europe/Paris', 'America/New_York'.",
                )
                })?;
            zone.name().to_string()
        }
        "datestyle" => {
            let current = value(metadata, "DateStyle")
                .map(|v| v.1)
                .unwrap_or_default();
            date_style(&current, values)?
        }
        "extra_float_digits" => {
            let v = single()?;
            let n: i32 = v.parse().map_err(|_| invalid(name, v))?;
            if !(-15..=3).contains(&n) {
                return Err(Error::new(
                    sqlstate::INVALID_PARAMETER_VALUE,
                    format!("{n} is outside the valid range for parameter \"{name}\" (-15 .. 3)"),
                ));
            }
            n.to_string()
        }
        "intervalstyle" => {
            let v = single()?.to_ascii_lowercase();
            match v.as_str() {
                "postgres" | "postgres_verbose" | "sql_standard" | "iso_8601" => v,
                _ => return Err(invalid("IntervalStyle", &v)),
            }
        }
        "bytea_output" => {
            let v = single()?.to_ascii_lowercase();
            match v.as_str() {
                "hex" | "escape" => v,
                _ => return Err(invalid(name, &v)),
            }
        }
        "client_encoding" => {
            let v = single()?;
            match v.to_ascii_lowercase().replace(['-', '_'], "").as_str() {
                "utf8" | "unicode" => "UTF8".into(),
                _ => {
                    return Err(Error::not_supported(format!(
                        "recsql only speaks UTF8, not client encoding \"{v}\""
                    ))
                    .with_hint("Set the client's encoding to UTF8."));
                }
            }
        }
        "standard_conforming_strings" => {
            let v = boolean(name, single()?)?;
            if v == "off" {
                return Err(Error::not_supported(
                    "recsql always reads backslashes in '...' strings literally",
                )
                .with_hint("Use E'...' strings for escapes."));
            }
            v
        }
        _ if MILLISECOND_PARAMETERS.contains(&name) => milliseconds(name, single()?)?,
        _ if param.is_some_and(|p| p.vartype == "bool") => boolean(name, single()?)?,
        _ => values
            .iter()
            .map(Value::text)
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// Carries out `SET` or `RESET` on a session's `metadata` and returns the parameters to
/// report to the client, with their new values. SHOW changes nothing and reports nothing.
pub fn apply(metadata: &mut Metadata, command: &Command) -> Result<Vec<(String, String)>> {
    let names: Vec<String> = match command {
        Command::Show(_) => return Ok(vec![]),
        Command::Reset(None) => metadata
            .keys()
            .filter_map(|k| k.strip_prefix("recsql.startup.").map(str::to_string))
            .collect(),
        Command::Reset(Some(name)) | Command::Set { name, .. } => vec![canonical(name)],
    };
    let mut reported = Vec::new();
    for name in names {
        if is_server_option(&name) {
            return Err(Error::new(
                "55P02",
                format!("parameter \"{name}\" cannot be changed now"),
            )
            .with_hint(
                "DataFusion's options belong to the server and every connection shares them, \
                 so one session may not change them; SHOW reads them.",
            ));
        }
        if let Some(p) = parameter(&name)
            && !p.settable
        {
            return Err(Error::new(
                "55P02",
                format!("parameter \"{}\" cannot be changed", p.name),
            ));
        }
        let new = match command {
            Command::Set {
                values: Some(values),
                ..
            } => Some(checked(metadata, &name, values)?),
            _ => None,
        };
        // The value from before the session's first SET, which RESET brings back.
        let saved = startup_key(&name);
        if !metadata.contains_key(&saved) {
            let start = metadata.get(&name).cloned().unwrap_or_default();
            metadata.insert(saved.clone(), start);
        }
        match new {
            Some(v) => {
                metadata.insert(name.clone(), v);
            }
            None => match metadata.get(&saved).cloned() {
                Some(start) if !start.is_empty() => {
                    metadata.insert(name.clone(), start);
                }
                _ => {
                    metadata.remove(&name);
                }
            },
        }
        if let Some(p) = parameter(&name)
            && REPORTED.contains(&p.name)
            && let Some((shown, v)) = value(metadata, p.name)
        {
            reported.push((shown, v));
        }
    }
    Ok(reported)
}

/// The parameters a client sets in its startup packet's `options` (libpq's `PGOPTIONS`,
/// JDBC's `options`): `-c name=value`, `-cname=value` or `--name=value`, separated by spaces,
/// a backslash keeping the next character (`-c search_path=files,\\ demo`). Answers what
/// the session starts with, checked as `SET` checks it; PostgreSQL refuses the connection
/// where a value is wrong, so the caller does.
pub fn startup_options(options: &str) -> Result<Metadata> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut chars = options.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => word.extend(chars.next()),
            c if c.is_whitespace() => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    let mut session = Metadata::new();
    let mut words = words.into_iter();
    while let Some(w) = words.next() {
        let assignment = if w == "-c" {
            words.next().unwrap_or_default()
        } else if let Some(rest) = w.strip_prefix("--").or_else(|| w.strip_prefix("-c")) {
            rest.to_string()
        } else {
            return Err(Error::syntax(format!(
                "invalid command-line argument for server process: {w}"
            ))
            .with_hint("Startup options are -c name=value or --name=value."));
        };
        let Some((name, value)) = assignment.split_once('=') else {
            return Err(Error::syntax(format!("-c {assignment} requires a value")));
        };
        let name = canonical(&name.replace('-', "_"));
        if parameter(&name).is_none() && !name.contains('.') {
            return Err(unrecognized(&name));
        }
        let set = Command::Set {
            name,
            values: Some(vec![Value::Text(value.to_string())]),
        };
        apply(&mut session, &set)?;
    }
    // What the session starts with is no SET: RESET comes back to it.
    session.retain(|k, _| !k.starts_with("recsql.startup."));
    Ok(session)
}

/// The schemas of a session's search path, in order: names as they resolve (unquoted ones
/// in lower case), without `$user`, which names no schema here.
pub fn search_path(metadata: &Metadata) -> Vec<String> {
    let text = value(metadata, "search_path")
        .map(|v| v.1)
        .unwrap_or_else(|| DEFAULT_SEARCH_PATH.to_string());
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(
            |s| match s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
                Some(quoted) => quoted.to_string(),
                None => s.to_ascii_lowercase(),
            },
        )
        .filter(|s| s != "$user")
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(metadata: &mut Metadata, sql: &str) -> Result<Vec<(String, String)>> {
        let command = Command::parse(sql).expect(sql);
        apply(metadata, &command)
    }

    fn shown(metadata: &Metadata, name: &str) -> String {
        value(metadata, name).unwrap().1
    }

    #[test]
    fn statements_are_read_as_postgresql_reads_them() {
        let parse = |s: &str| Command::parse(s);
        assert_eq!(parse("SHOW ALL"), Some(Command::Show(None)));
        assert_eq!(
            parse("show Time Zone;"),
            Some(Command::Show(Some("timezone".into())))
        );
        assert_eq!(
            parse("SHOW transaction isolation level"),
            Some(Command::Show(Some("transaction_isolation".into())))
        );
        assert_eq!(
            parse("SET search_path TO files, \"$user\", 'demo'"),
            Some(Command::Set {
                name: "search_path".into(),
                values: Some(vec![
                    Value::Word("files".into()),
                    Value::Quoted("$user".into()),
                    Value::Text("demo".into())
                ])
            })
        );
        assert_eq!(
            parse("SET SESSION extra_float_digits = -2"),
            Some(Command::Set {
                name: "extra_float_digits".into(),
                values: Some(vec![Value::Word("-2".into())])
            })
        );
        assert_eq!(
            parse("set my.option to default"),
            Some(Command::Set {
                name: "my.option".into(),
                values: None
            })
        );
        assert_eq!(parse("RESET ALL"), Some(Command::Reset(None)));
        assert_eq!(
            parse("SET NAMES 'UTF8'"),
            Some(Command::Set {
                name: "client_encoding".into(),
                values: Some(vec![Value::Text("UTF8".into())])
            })
        );
        for sql in [
            "SET TIME ZONE 'UTC'",
            "SET timezone = 'UTC'",
            "set time zone utc",
        ] {
            let Some(Command::Set {
                name,
                values: Some(v),
            }) = parse(sql)
            else {
                panic!("{sql}");
            };
            assert_eq!(name, "timezone", "{sql}");
            assert_eq!(v.len(), 1, "{sql}");
        }
        for sql in [
            "SET TIME ZONE DEFAULT",
            "SET TIME ZONE LOCAL",
            "RESET TIME ZONE",
            "RESET timezone",
        ] {
            assert_eq!(
                parse(sql),
                Some(Command::Reset(Some("timezone".into()))),
                "{sql}"
            );
        }
        // Left to datafusion-postgres, which acts on them.
        for other in [
            "SET TRANSACTION ISOLATION LEVEL READ COMMITTED",
            "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
            "SET SESSION AUTHORIZATION bob",
            "SET ROLE bob",
            "SELECT 1",
            "SET x = ",
            "SET x = 1 2",
        ] {
            assert_eq!(parse(other), None, "{other}");
        }
    }

    #[test]
    fn datafusion_options_are_shown_but_not_set() {
        assert_eq!(
            Command::parse("SHOW datafusion.execution.batch_size"),
            Some(Command::Show(Some(
                "datafusion.execution.batch_size".into()
            )))
        );
        let mut m = Metadata::new();
        for sql in [
            "SET datafusion.execution.batch_size = 100",
            "RESET datafusion.sql_parser.parse_float_as_decimal",
        ] {
            let command = Command::parse(sql).expect(sql);
            let e = apply(&mut m, &command).unwrap_err();
            assert_eq!(e.code, "55P02", "{sql}");
        }
        assert!(m.is_empty());
        let options = datafusion::config::ConfigOptions::default();
        assert_eq!(
            server_option(&options, "datafusion.execution.batch_size").as_deref(),
            Some("8192")
        );
        assert_eq!(server_option(&options, "datafusion.nope"), None);
    }

    #[test]
    fn set_show_and_reset_work_on_the_session() {
        let mut m = Metadata::new();
        m.insert("application_name".into(), "psql".into());
        assert_eq!(shown(&m, "application_name"), "psql");
        assert_eq!(
            set(&mut m, "SET application_name = 'etl'").unwrap(),
            vec![("application_name".to_string(), "etl".to_string())]
        );
        assert_eq!(shown(&m, "APPLICATION_NAME"), "etl");
        set(&mut m, "RESET application_name").unwrap();
        assert_eq!(shown(&m, "application_name"), "psql");

        set(&mut m, "SET extra_float_digits = 0").unwrap();
        assert_eq!(m.get("extra_float_digits").unwrap(), "0");
        let e = set(&mut m, "SET extra_float_digits = 4").unwrap_err();
        assert!(e.to_string().contains("-15 .. 3"), "{e}");

        set(&mut m, "SET jit = false").unwrap();
        assert_eq!(shown(&m, "jit"), "off");
        set(&mut m, "SET datestyle = 'German'").unwrap();
        assert_eq!(shown(&m, "DateStyle"), "German, MDY");
        set(&mut m, "SET datestyle = euro").unwrap();
        assert_eq!(shown(&m, "datestyle"), "German, DMY");
        assert!(set(&mut m, "SET datestyle = 'nope'").is_err());

        set(&mut m, "SET my.flag = 'x'").unwrap();
        assert_eq!(
            value(&m, "my.flag").unwrap(),
            ("my.flag".into(), "x".into())
        );
        assert!(value(&m, "no_such_parameter").is_none());

        set(&mut m, "RESET ALL").unwrap();
        assert_eq!(shown(&m, "application_name"), "psql");
        assert_eq!(shown(&m, "jit"), "off");
        assert_eq!(shown(&m, "extra_float_digits"), "1");
        assert!(value(&m, "my.flag").is_none());
    }

    #[test]
    fn server_parameters_and_encodings_refuse_changes() {
        let mut m = Metadata::new();
        let e = set(&mut m, "SET server_version = '1'").unwrap_err();
        assert!(e.to_string().contains("cannot be changed"), "{e}");
        set(&mut m, "SET client_encoding = 'utf-8'").unwrap();
        assert_eq!(shown(&m, "client_encoding"), "UTF8");
        assert!(set(&mut m, "SET client_encoding = 'LATIN1'").is_err());
        assert!(set(&mut m, "SET standard_conforming_strings = off").is_err());
    }

    #[test]
    fn the_search_path_lists_schemas_in_order() {
        let mut m = Metadata::new();
        assert_eq!(search_path(&m), vec!["mindsdb"]);
        set(
            &mut m,
            "SET search_path TO Files, \"$user\", \"Mixed\", public",
        )
        .unwrap();
        assert_eq!(
            shown(&m, "search_path"),
            "files, \"$user\", \"Mixed\", public"
        );
        assert_eq!(search_path(&m), vec!["files", "Mixed", "public"]);
    }

    #[test]
    fn startup_options_set_what_the_session_starts_with() {
        let mut m = startup_options(
            "-c statement_timeout=5s  -csearch_path=files,\\ demo --extra-float-digits=1",
        )
        .unwrap();
        assert_eq!(shown(&m, "statement_timeout"), "5s");
        assert_eq!(search_path(&m), ["files", "demo"]);
        assert_eq!(shown(&m, "extra_float_digits"), "1");
        set(&mut m, "SET statement_timeout = 0").unwrap();
        set(&mut m, "RESET statement_timeout").unwrap();
        assert_eq!(shown(&m, "statement_timeout"), "5s");
        assert!(startup_options("").unwrap().is_empty());
        for bad in [
            "-c statement_timeout=abc",
            "-c nope=1",
            "-x",
            "-c statement_timeout",
        ] {
            assert!(startup_options(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timeouts_are_read_in_postgresql_units_and_reset() {
        let mut m = Metadata::new();
        assert_eq!(statement_timeout(&m), None);
        for (sql, shows, ms) in [
            ("SET statement_timeout = 5000", "5s", 5000),
            ("SET statement_timeout TO '250ms'", "250ms", 250),
            ("SET statement_timeout = '1.5min'", "90s", 90_000),
            ("SET statement_timeout = '2h'", "2h", 7_200_000),
            ("SET statement_timeout = '1500us'", "2ms", 2),
        ] {
            set(&mut m, sql).expect(sql);
            assert_eq!(shown(&m, "statement_timeout"), shows, "{sql}");
            assert_eq!(
                statement_timeout(&m),
                Some(std::time::Duration::from_millis(ms)),
                "{sql}"
            );
        }
        for bad in [
            "SET statement_timeout = 'abc'",
            "SET statement_timeout = '5 parsecs'",
            "SET statement_timeout = -1",
            "SET lock_timeout = '1y'",
        ] {
            let err = set(&mut m, bad).expect_err(bad);
            assert_eq!(err.code, sqlstate::INVALID_PARAMETER_VALUE, "{bad}");
        }
        set(&mut m, "SET statement_timeout = 0").unwrap();
        assert_eq!(statement_timeout(&m), None);
        set(&mut m, "SET statement_timeout = '1s'").unwrap();
        set(&mut m, "RESET statement_timeout").unwrap();
        assert_eq!(statement_timeout(&m), None);
        assert_eq!(shown(&m, "statement_timeout"), "0");
    }

    #[test]
    fn durations_read_as_postgresql_shows_them() {
        let mut m = Metadata::new();
        assert_eq!(shown(&m, "statement_timeout"), "0");
        m.insert("statement_timeout".into(), "5000".into());
        assert_eq!(shown(&m, "statement_timeout"), "5s");
        m.insert("statement_timeout".into(), "250".into());
        assert_eq!(shown(&m, "statement_timeout"), "250ms");
        assert_eq!(shown(&m, "TimeZone"), "Etc/UTC");
    }
}
