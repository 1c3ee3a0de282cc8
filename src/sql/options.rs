//! USING options → typed values. Each statement kind declares its keys; an unknown key is
//! refused with the closest known ones, a bad value with what the key accepts. No I/O.

use super::ast::{UsingOption, UsingValue};
use crate::error::{Error, Result};

/// Levenshtein distance, for "did you mean" suggestions.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The error for a key that is not in `known`, naming the closest known keys.
pub fn unknown_key(key: &str, known: &[&str], context: &str) -> Error {
    let mut close: Vec<(usize, &str)> = known
        .iter()
        .map(|k| (distance(key, k), *k))
        .filter(|(d, k)| *d <= 3.max(k.len() / 3))
        .collect();
    close.sort();
    let hint = if close.is_empty() {
        format!("known keys: {}", known.join(", "))
    } else {
        format!(
            "did you mean {}?",
            close
                .iter()
                .take(3)
                .map(|(_, k)| *k)
                .collect::<Vec<_>>()
                .join(" or ")
        )
    };
    Error::invalid_value(format!("unknown USING key \"{key}\" for {context}")).with_hint(hint)
}

/// Typed access to a USING list.
pub struct Options<'a> {
    options: &'a [UsingOption],
    context: &'static str,
}

impl<'a> Options<'a> {
    /// Checks that every key is known and none is given twice.
    pub fn new(options: &'a [UsingOption], known: &[&str], context: &'static str) -> Result<Self> {
        for (i, o) in options.iter().enumerate() {
            if !known.contains(&o.key.as_str()) {
                return Err(unknown_key(&o.key, known, context));
            }
            if options[..i].iter().any(|p| p.key == o.key) {
                return Err(Error::invalid_value(format!(
                    "USING key \"{}\" is given twice",
                    o.key
                )));
            }
        }
        Ok(Options { options, context })
    }

    pub fn get(&self, key: &str) -> Option<&'a UsingValue> {
        self.options.iter().find(|o| o.key == key).map(|o| &o.value)
    }

    fn bad(&self, key: &str, value: &UsingValue, wants: &str) -> Error {
        Error::invalid_value(format!(
            "USING {key} = {value} is not valid for {}: {key} takes {wants}",
            self.context
        ))
    }

    pub fn text(&self, key: &str) -> Result<Option<String>> {
        match self.get(key) {
            None | Some(UsingValue::Null) => Ok(None),
            Some(UsingValue::Str(s)) => Ok(Some(s.clone())),
            Some(v) => Err(self.bad(key, v, "a string")),
        }
    }

    pub fn number(&self, key: &str) -> Result<Option<f64>> {
        match self.get(key) {
            None | Some(UsingValue::Null) => Ok(None),
            Some(v @ (UsingValue::Number(s) | UsingValue::Str(s))) => s
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .map(Some)
                .ok_or_else(|| self.bad(key, v, "a number")),
            Some(v) => Err(self.bad(key, v, "a number")),
        }
    }

    /// A whole number in `range`.
    pub fn integer(&self, key: &str, range: std::ops::RangeInclusive<u64>) -> Result<Option<u64>> {
        let wants = format!("a whole number from {} to {}", range.start(), range.end());
        match self.number(key)? {
            None => Ok(None),
            Some(x)
                if x.fract() == 0.0 && x >= *range.start() as f64 && x <= *range.end() as f64 =>
            {
                Ok(Some(x as u64))
            }
            Some(_) => Err(self.bad(key, self.get(key).unwrap_or(&UsingValue::Null), &wants)),
        }
    }

    pub fn boolean(&self, key: &str) -> Result<Option<bool>> {
        match self.get(key) {
            None | Some(UsingValue::Null) => Ok(None),
            Some(UsingValue::Bool(b)) => Ok(Some(*b)),
            Some(v @ (UsingValue::Str(s) | UsingValue::Number(s))) => {
                match s.to_ascii_lowercase().as_str() {
                    "true" | "1" | "yes" | "on" => Ok(Some(true)),
                    "false" | "0" | "no" | "off" => Ok(Some(false)),
                    _ => Err(self.bad(key, v, "true or false")),
                }
            }
            Some(v) => Err(self.bad(key, v, "true or false")),
        }
    }

    /// A string that must be one of `choices` (case-insensitive).
    pub fn choice(&self, key: &str, choices: &[&str]) -> Result<Option<String>> {
        match self.text(key)? {
            None => Ok(None),
            Some(s) if choices.iter().any(|c| c.eq_ignore_ascii_case(&s)) => {
                Ok(Some(s.to_ascii_lowercase()))
            }
            Some(s) => Err(self.bad(
                key,
                &UsingValue::Str(s),
                &format!("one of {}", choices.join(", ")),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, UsingValue)]) -> Vec<UsingOption> {
        pairs
            .iter()
            .map(|(k, v)| UsingOption {
                key: k.to_string(),
                value: v.clone(),
            })
            .collect()
    }

    #[test]
    fn unknown_keys_suggest_the_closest() {
        let o = opts(&[("learning_rat", UsingValue::Number("0.1".into()))]);
        let e = Options::new(&o, &["learning_rate", "loss", "epochs"], "CREATE MODEL")
            .err()
            .unwrap();
        assert!(e.message.contains("learning_rat"));
        assert_eq!(e.hint.as_deref(), Some("did you mean learning_rate?"));
    }

    #[test]
    fn typed_values() {
        let o = opts(&[
            ("a", UsingValue::Number("3".into())),
            ("b", UsingValue::Str("0.5".into())),
            ("c", UsingValue::Str("yes".into())),
            ("d", UsingValue::Str("WARP".into())),
            ("e", UsingValue::Number("2.5".into())),
        ]);
        let x = Options::new(&o, &["a", "b", "c", "d", "e"], "test").unwrap();
        assert_eq!(x.integer("a", 1..=10).unwrap(), Some(3));
        assert_eq!(x.number("b").unwrap(), Some(0.5));
        assert_eq!(x.boolean("c").unwrap(), Some(true));
        assert_eq!(
            x.choice("d", &["warp", "bpr"]).unwrap().as_deref(),
            Some("warp")
        );
        assert!(x.integer("e", 1..=10).is_err());
        assert!(x.integer("a", 5..=10).is_err());
        assert!(x.text("a").is_err());
    }
}
