//! PostgreSQL's text form of an array (`'{1,2,3}'`, `'{"a b","x\"y",NULL}'`,
//! `'{{1,2},{3,4}}'`), read into its elements as PostgreSQL's `array_in` reads it: elements
//! are separated by commas; whitespace around an element is dropped; double quotes keep
//! commas, braces, whitespace and the word NULL as text; a backslash takes the next character
//! as it is; an unquoted `NULL` (any case) is a null. The elements stay text: the cast that
//! holds the literal gives them their type. This module reads text only; it builds no SQL.

use crate::error::{Error, Result, sqlstate};

/// One element of an array literal: a value, a null, or a nested array (a dimension).
#[derive(Debug, Clone, PartialEq)]
pub enum Element {
    Text(String),
    Null,
    Array(Vec<Element>),
}

/// The elements of `text`, an array in PostgreSQL's text form.
pub fn parse(text: &str) -> Result<Vec<Element>> {
    let mut reader = Reader {
        chars: text.chars().collect(),
        at: 0,
        text,
    };
    reader.skip_space();
    if reader.peek() == Some('[') {
        return Err(reader.malformed(
            "Explicit array dimensions (\"[1:3]={...}\") are not supported; write the elements only.",
        ));
    }
    let elements = reader.array()?;
    reader.skip_space();
    if reader.peek().is_some() {
        return Err(reader.malformed("Junk after closing right brace."));
    }
    Ok(elements)
}

struct Reader<'a> {
    chars: Vec<char>,
    at: usize,
    text: &'a str,
}

impl Reader<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
    }

    fn malformed(&self, detail: &str) -> Error {
        Error::new(
            sqlstate::INVALID_TEXT_REPRESENTATION,
            format!("malformed array literal: \"{}\"", self.text),
        )
        .with_hint(detail)
    }

    /// `{ element, ... }`, at a `{`.
    fn array(&mut self) -> Result<Vec<Element>> {
        if self.peek() != Some('{') {
            return Err(
                self.malformed("Array value must start with \"{\" or dimension information.")
            );
        }
        self.at += 1;
        let mut elements = Vec::new();
        self.skip_space();
        if self.peek() == Some('}') {
            self.at += 1;
            return Ok(elements);
        }
        loop {
            self.skip_space();
            let element = match self.peek() {
                Some('{') => Element::Array(self.array()?),
                Some('"') => Element::Text(self.quoted()?),
                Some(',' | '}') => {
                    return Err(self.malformed("Unexpected \",\" or \"}\" character."));
                }
                Some(_) => self.unquoted()?,
                None => return Err(self.malformed("Unexpected end of input.")),
            };
            elements.push(element);
            self.skip_space();
            match self.peek() {
                Some(',') => self.at += 1,
                Some('}') => {
                    self.at += 1;
                    break;
                }
                Some(_) => return Err(self.malformed("Unexpected array element.")),
                None => return Err(self.malformed("Unexpected end of input.")),
            }
        }
        let nested = elements
            .iter()
            .filter(|e| matches!(e, Element::Array(_)))
            .count();
        if nested != 0 && nested != elements.len() {
            return Err(self.malformed(
                "Multidimensional arrays must have sub-arrays with matching dimensions.",
            ));
        }
        Ok(elements)
    }

    /// `"..."`, at the opening quote.
    fn quoted(&mut self) -> Result<String> {
        self.at += 1;
        let mut value = String::new();
        loop {
            match self.peek() {
                Some('"') => {
                    self.at += 1;
                    return Ok(value);
                }
                Some('\\') => {
                    self.at += 1;
                    match self.peek() {
                        Some(c) => value.push(c),
                        None => return Err(self.malformed("Unexpected end of input.")),
                    }
                }
                Some(c) => value.push(c),
                None => return Err(self.malformed("Unexpected end of input.")),
            }
            self.at += 1;
        }
    }

    /// An element without quotes, up to the next `,` or `}`; trailing whitespace is dropped
    /// unless escaped.
    fn unquoted(&mut self) -> Result<Element> {
        let mut value = String::new();
        let mut kept = 0; // length of `value` that trailing-space trimming must keep
        let mut escaped = false;
        loop {
            match self.peek() {
                Some(',' | '}') => break,
                Some('{' | '"') => return Err(self.malformed("Unexpected array element.")),
                Some('\\') => {
                    self.at += 1;
                    let Some(c) = self.peek() else {
                        return Err(self.malformed("Unexpected end of input."));
                    };
                    value.push(c);
                    kept = value.len();
                    escaped = true;
                }
                Some(c) => {
                    value.push(c);
                    if !c.is_whitespace() {
                        kept = value.len();
                    }
                }
                None => return Err(self.malformed("Unexpected end of input.")),
            }
            self.at += 1;
        }
        value.truncate(kept);
        Ok(if !escaped && value.eq_ignore_ascii_case("null") {
            Element::Null
        } else {
            Element::Text(value)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Element {
        Element::Text(s.to_string())
    }

    #[test]
    fn reads_postgres_array_text() {
        assert_eq!(
            parse("{1,2,3}").unwrap(),
            vec![text("1"), text("2"), text("3")]
        );
        assert_eq!(parse(" { 1 , 2 } ").unwrap(), vec![text("1"), text("2")]);
        assert_eq!(parse("{}").unwrap(), vec![]);
        assert_eq!(
            parse(r#"{"a b","x\"y",NULL,"NULL",null,\NULL}"#).unwrap(),
            vec![
                text("a b"),
                text("x\"y"),
                Element::Null,
                text("NULL"),
                Element::Null,
                text("NULL")
            ]
        );
        assert_eq!(
            parse(r#"{"1,2",a\,b}"#).unwrap(),
            vec![text("1,2"), text("a,b")]
        );
        assert_eq!(parse("{a b ,c}").unwrap(), vec![text("a b"), text("c")]);
        assert_eq!(parse(r#"{"",x}"#).unwrap(), vec![text(""), text("x")]);
        assert_eq!(
            parse("{{1,2},{3,4}}").unwrap(),
            vec![
                Element::Array(vec![text("1"), text("2")]),
                Element::Array(vec![text("3"), text("4")])
            ]
        );
    }

    #[test]
    fn refuses_malformed_text_with_postgres_error() {
        for bad in [
            "1,2",
            "{1,2",
            "{1,,2}",
            "{1,2}x",
            "{\"a}",
            "{{1},2}",
            "[1:2]={1,2}",
            "{a\"b\"}",
        ] {
            let e = parse(bad).unwrap_err();
            assert_eq!(e.code, sqlstate::INVALID_TEXT_REPRESENTATION, "{bad}");
            assert!(
                e.to_string().contains("malformed array literal"),
                "{bad}: {e}"
            );
        }
    }
}
