//! PostgreSQL's templates for numbers in `to_char`: digit positions `9` (a blank where the
//! digit is a leading zero) and `0` (always a digit), the point `.` or `D`, the group separator
//! `,` or `G`, the signs `S`, `MI`, `PL`, `SG` and `PR`, `EEEE` (scientific notation), the fill
//! mode `FM` (no padding, no trailing zeros from `9`), `L` (the C locale's currency symbol, a
//! blank) and literal text (`"n="`, `$`); not `V`, `TH` or `RN`. As in
//! PostgreSQL, the value is rounded to the template's decimals (a numeric half away from zero),
//! a value with more integer digits than the template has positions prints `#` in each, and
//! without a sign in the template a position before the number holds `-` or a blank. Checked
//! against PostgreSQL 15's answers for values and templates of each of these kinds.
//!
//! Pure formatting: it parses templates and writes text; it registers nothing.

use std::fmt::Write;

/// One piece of a template.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    /// A digit position: `0` always prints a digit, `9` a blank for a leading zero.
    Digit {
        zero: bool,
    },
    Point,
    Group,
    /// `S`: the sign, `+` or `-`, next to the number (or at the end when it follows it).
    Sign,
    /// `MI`: `-` for a negative number, else a blank.
    Minus,
    /// `PL`: `+` for a number that is not negative, else a blank.
    Plus,
    /// `SG`: `+` or `-` where it stands.
    PlusMinus,
    /// `PR`: a negative number in angle brackets.
    Brackets,
    /// `EEEE`: scientific notation.
    Exponent,
    Literal(String),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct NumberTemplate {
    pieces: Vec<Piece>,
    fill_mode: bool,
}

/// A template pattern that recsql does not format, named for the error.
#[derive(Debug, PartialEq)]
pub struct Unsupported(pub &'static str);

impl NumberTemplate {
    pub fn parse(template: &str) -> Result<NumberTemplate, Unsupported> {
        let mut pieces = Vec::new();
        let mut fill_mode = false;
        let mut rest = template;
        let keyword = |rest: &str, k: &str| {
            rest.get(..k.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(k))
        };
        while let Some(c) = rest.chars().next() {
            let (piece, len) = if keyword(rest, "FM") {
                fill_mode = true;
                (None, 2)
            } else if keyword(rest, "EEEE") {
                (Some(Piece::Exponent), 4)
            } else if keyword(rest, "MI") {
                (Some(Piece::Minus), 2)
            } else if keyword(rest, "PL") {
                (Some(Piece::Plus), 2)
            } else if keyword(rest, "SG") {
                (Some(Piece::PlusMinus), 2)
            } else if keyword(rest, "PR") {
                (Some(Piece::Brackets), 2)
            } else if keyword(rest, "TH") {
                return Err(Unsupported("TH"));
            } else if keyword(rest, "RN") {
                return Err(Unsupported("RN"));
            } else {
                match c {
                    '9' => (Some(Piece::Digit { zero: false }), 1),
                    '0' => (Some(Piece::Digit { zero: true }), 1),
                    '.' | 'D' | 'd' => (Some(Piece::Point), 1),
                    ',' | 'G' | 'g' => (Some(Piece::Group), 1),
                    'S' | 's' => (Some(Piece::Sign), 1),
                    // The currency symbol, blank in the C locale that recsql speaks.
                    'L' | 'l' => (Some(Piece::Literal(" ".into())), 1),
                    'V' | 'v' => return Err(Unsupported("V")),
                    '"' => {
                        let body = &rest[1..];
                        let end = body.find('"').unwrap_or(body.len());
                        let text = body[..end].to_string();
                        let len = 1 + end + usize::from(end < body.len());
                        (Some(Piece::Literal(text)), len)
                    }
                    '\\' if rest.len() > 1 => {
                        let next = rest[1..].chars().next().map(String::from);
                        let len = 1 + next.as_ref().map_or(0, String::len);
                        (next.map(Piece::Literal), len)
                    }
                    other => (Some(Piece::Literal(other.to_string())), other.len_utf8()),
                }
            };
            if let Some(piece) = piece {
                pieces.push(piece);
            }
            rest = &rest[len..];
        }
        Ok(NumberTemplate { pieces, fill_mode })
    }

    /// Digit positions before the point and after it.
    fn positions(&self) -> (usize, usize) {
        let point = self.pieces.iter().position(|p| *p == Piece::Point);
        let digits = |ps: &[Piece]| {
            ps.iter()
                .filter(|p| matches!(p, Piece::Digit { .. }))
                .count()
        };
        match point {
            Some(at) => (digits(&self.pieces[..at]), digits(&self.pieces[at + 1..])),
            None => (digits(&self.pieces), 0),
        }
    }

    /// Decimals the value must be rounded to before [`NumberTemplate::format`].
    pub fn decimals(&self) -> usize {
        self.positions().1
    }

    /// Whether the template writes scientific notation.
    pub fn scientific(&self) -> bool {
        self.pieces.contains(&Piece::Exponent)
    }

    /// `value`, already rounded to [`NumberTemplate::decimals`] decimals (for scientific
    /// notation, the mantissa and its exponent), written with the template.
    pub fn format(&self, value: &Digits) -> String {
        if self.scientific() {
            return self.format_scientific(value);
        }
        let (int_positions, _) = self.positions();
        let negative = value.negative && !value.is_zero();
        let overflow = value.whole.len() > int_positions;
        let lead = int_positions.saturating_sub(value.whole.len());
        // The fraction's digits, with the trailing zeros of `9` positions dropped in fill mode.
        let after_point: Vec<bool> = self
            .pieces
            .iter()
            .skip_while(|p| **p != Piece::Point)
            .filter_map(|p| match p {
                Piece::Digit { zero } => Some(*zero),
                _ => None,
            })
            .collect();
        let mut fraction_kept = value.fraction.len();
        if self.fill_mode {
            while fraction_kept > 0
                && !after_point[fraction_kept - 1]
                && value.fraction.as_bytes()[fraction_kept - 1] == b'0'
            {
                fraction_kept -= 1;
            }
        }
        let has_sign_piece = self.pieces.iter().any(|p| {
            matches!(
                p,
                Piece::Sign | Piece::Minus | Piece::PlusMinus | Piece::Brackets
            )
        });
        // The number's own characters and where each is blank; the floating sign goes in
        // front of the first that is not.
        let mut cells: Vec<Cell> = Vec::new();
        let mut int_index = 0;
        let mut frac_index = 0;
        let mut in_fraction = false;
        let mut started = false;
        let mut trailing: Vec<Cell> = Vec::new();
        let mut sign_at_end = false;
        for (i, piece) in self.pieces.iter().enumerate() {
            let after_digits = self.pieces[..i]
                .iter()
                .any(|p| matches!(p, Piece::Digit { .. } | Piece::Point));
            match piece {
                Piece::Digit { zero } if !in_fraction => {
                    let c = if overflow {
                        Some('#')
                    } else if int_index >= lead {
                        Some(char::from(value.whole.as_bytes()[int_index - lead]))
                    } else if *zero || started {
                        Some('0')
                    } else {
                        None
                    };
                    started |= c.is_some();
                    cells.push(Cell::Number(c));
                    int_index += 1;
                }
                Piece::Digit { .. } => {
                    let c = if overflow {
                        Some('#')
                    } else if frac_index < fraction_kept {
                        Some(char::from(value.fraction.as_bytes()[frac_index]))
                    } else {
                        None
                    };
                    cells.push(Cell::Number(c));
                    frac_index += 1;
                }
                Piece::Point => {
                    in_fraction = true;
                    cells.push(Cell::Point);
                }
                Piece::Group if !in_fraction => {
                    cells.push(Cell::Number(started.then_some(',')));
                }
                Piece::Group => cells.push(Cell::Number(Some(','))),
                Piece::Sign if after_digits => {
                    sign_at_end = true;
                    trailing.push(Cell::Fixed(if negative { "-" } else { "+" }.into()));
                }
                Piece::Sign => {}
                Piece::Minus => cells.push(Cell::Fixed(self.blank_or(negative, "-"))),
                Piece::Plus => cells.push(Cell::Fixed(self.blank_or(!negative, "+"))),
                Piece::PlusMinus => {
                    cells.push(Cell::Fixed(if negative { "-" } else { "+" }.into()))
                }
                Piece::Brackets => {
                    trailing.push(Cell::Fixed(self.blank_or(negative, ">")));
                }
                Piece::Exponent => {}
                Piece::Literal(text) => cells.push(Cell::Fixed(text.clone())),
            }
        }
        // No digit at all (zero, or a fraction of dropped zeros): the last integer position
        // shows the zero.
        let any_digit = cells
            .iter()
            .any(|c| matches!(c, Cell::Number(Some(d)) if d.is_ascii_digit() || *d == '#'));
        if !any_digit {
            set_last_integer_digit(&mut cells, &self.pieces);
        }
        // The floating sign: a blank or `-` without a sign piece, `S` before the digits, the
        // `<` of PR.
        let floating: Option<String> = if self.pieces.contains(&Piece::Brackets) {
            Some(self.blank_or(negative, "<"))
        } else if self.pieces.contains(&Piece::Sign) && !sign_at_end {
            Some(if negative { "-" } else { "+" }.into())
        } else if !has_sign_piece {
            Some(self.blank_or(negative, "-"))
        } else {
            None
        };
        let mut out = String::new();
        let mut placed = floating.is_none();
        for cell in cells.iter().chain(trailing.iter()) {
            match cell {
                Cell::Number(None) => {
                    if !self.fill_mode {
                        out.push(' ');
                    }
                }
                Cell::Number(Some(c)) => {
                    if !placed {
                        out.push_str(floating.as_deref().unwrap_or(""));
                        placed = true;
                    }
                    out.push(*c);
                }
                Cell::Point => {
                    if !placed {
                        out.push_str(floating.as_deref().unwrap_or(""));
                        placed = true;
                    }
                    out.push('.');
                }
                Cell::Fixed(text) => out.push_str(text),
            }
        }
        if !placed {
            out.push_str(floating.as_deref().unwrap_or(""));
        }
        out
    }

    /// A blank (nothing in fill mode) or `mark`.
    fn blank_or(&self, show: bool, mark: &str) -> String {
        match (show, self.fill_mode) {
            (true, _) => mark.to_string(),
            (false, true) => String::new(),
            (false, false) => " ".repeat(mark.len()),
        }
    }

    fn format_scientific(&self, value: &Digits) -> String {
        let negative = value.negative && !value.is_zero();
        let mut out = String::new();
        out.push_str(&self.blank_or(negative, "-"));
        out.push_str(&value.whole);
        if self.decimals() > 0 {
            out.push('.');
            out.push_str(&value.fraction);
        }
        let exponent = value.exponent;
        let _ = write!(
            out,
            "e{}{:02}",
            if exponent < 0 { '-' } else { '+' },
            exponent.unsigned_abs()
        );
        out
    }
}

/// One character (or literal) of the output before the sign is placed.
#[derive(Debug)]
enum Cell {
    /// A digit, `#` or group separator, or a blank.
    Number(Option<char>),
    Point,
    Fixed(String),
}

/// Puts a `0` in the cell of the last integer digit position of `pieces`.
fn set_last_integer_digit(cells: &mut [Cell], pieces: &[Piece]) {
    let mut target = None;
    let mut cell = 0;
    for piece in pieces {
        match piece {
            Piece::Point => break,
            Piece::Digit { .. } => target = Some(cell),
            _ => {}
        }
        if !matches!(piece, Piece::Sign | Piece::Brackets | Piece::Exponent) {
            cell += 1;
        }
    }
    if let Some(Cell::Number(c)) = target.and_then(|t| cells.get_mut(t)) {
        *c = Some('0');
    }
}

/// A number as the template writes it: its sign, integer digits (none for a zero integer
/// part) and fraction digits, already rounded; for scientific notation, the mantissa's digits
/// and the exponent.
#[derive(Debug, Clone, PartialEq)]
pub struct Digits {
    pub negative: bool,
    pub whole: String,
    pub fraction: String,
    pub exponent: i32,
}

impl Digits {
    fn is_zero(&self) -> bool {
        self.whole.bytes().all(|b| b == b'0') && self.fraction.bytes().all(|b| b == b'0')
    }

    /// An exact decimal `unscaled × 10^-scale`, rounded half away from zero to `decimals`
    /// (or, for scientific notation, to a mantissa of one digit and `decimals`).
    pub fn from_decimal(unscaled: i128, scale: i8, decimals: usize, scientific: bool) -> Digits {
        let negative = unscaled < 0;
        let mut digits = unscaled.unsigned_abs().to_string();
        let mut scale = i32::from(scale);
        if scale < 0 {
            digits.push_str(&"0".repeat(scale.unsigned_abs() as usize));
            scale = 0;
        }
        let scale = scale as usize;
        if digits.len() <= scale {
            digits = format!("{}{digits}", "0".repeat(scale + 1 - digits.len()));
        }
        let (whole, fraction) = digits.split_at(digits.len() - scale);
        if scientific {
            let all = format!("{whole}{fraction}");
            let first = all.find(|c: char| c != '0');
            let Some(first) = first else {
                return Digits {
                    negative,
                    whole: "0".into(),
                    fraction: "0".repeat(decimals),
                    exponent: 0,
                };
            };
            let exponent = whole.len() as i32 - 1 - first as i32;
            let (mantissa, _) = round_digits(&all[first..], 1 + decimals);
            let (w, f) = mantissa.split_at(mantissa.len() - decimals);
            return Digits {
                negative,
                whole: w.to_string(),
                fraction: f.to_string(),
                exponent,
            };
        }
        let kept = whole.len() + decimals;
        let padded = format!("{whole}{fraction}{}", "0".repeat(decimals));
        let (rounded, _) = round_digits(&padded, kept);
        let (w, f) = rounded.split_at(rounded.len() - decimals);
        Digits {
            negative,
            whole: w.trim_start_matches('0').to_string(),
            fraction: f.to_string(),
            exponent: 0,
        }
    }

    /// A double, rounded to `decimals` as C's printf rounds it.
    pub fn from_double(value: f64, decimals: usize, scientific: bool) -> Digits {
        let negative = value.is_sign_negative() && value != 0.0;
        let magnitude = value.abs();
        if scientific {
            let text = format!("{magnitude:.decimals$e}");
            let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
            let (w, f) = mantissa.split_once('.').unwrap_or((mantissa, ""));
            return Digits {
                negative,
                whole: w.to_string(),
                fraction: f.to_string(),
                exponent: exponent.parse().unwrap_or(0),
            };
        }
        let text = format!("{magnitude:.decimals$}");
        let (w, f) = text.split_once('.').unwrap_or((&text, ""));
        Digits {
            negative,
            whole: w.trim_start_matches('0').to_string(),
            fraction: f.to_string(),
            exponent: 0,
        }
    }
}

/// The first `keep` digits of `digits`, rounded half away from zero on the rest; the result
/// may be one digit longer (`999` kept to 2 is `100`) and says so.
fn round_digits(digits: &str, keep: usize) -> (String, bool) {
    let bytes = digits.as_bytes();
    let mut kept: Vec<u8> = bytes[..keep.min(bytes.len())].to_vec();
    kept.resize(keep, b'0');
    let round_up = bytes.get(keep).is_some_and(|&d| d >= b'5');
    if !round_up {
        return (String::from_utf8(kept).unwrap_or_default(), false);
    }
    let mut i = kept.len();
    loop {
        if i == 0 {
            kept.insert(0, b'1');
            return (String::from_utf8(kept).unwrap_or_default(), true);
        }
        i -= 1;
        if kept[i] == b'9' {
            kept[i] = b'0';
        } else {
            kept[i] += 1;
            return (String::from_utf8(kept).unwrap_or_default(), false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `text` (digits with an optional sign and point) formatted with `template`.
    fn to_char(text: &str, template: &str) -> String {
        let t = NumberTemplate::parse(template).expect("a template");
        let scale = text.split_once('.').map_or(0, |(_, f)| f.len()) as i8;
        let unscaled: i128 = text.replace('.', "").parse().expect("a number");
        t.format(&Digits::from_decimal(
            unscaled,
            scale,
            t.decimals(),
            t.scientific(),
        ))
    }

    /// PostgreSQL 15's answers (`SELECT to_char(value::numeric, template)`).
    #[test]
    fn numbers_print_as_postgresql_prints_them() {
        let cases = [
            ("-0.004", "\"n=\"999", "n=   0"),
            ("-0.004", "0.99", " 0.00"),
            ("-0.004", "9,999", "     0"),
            ("-0.004", "FM99.90", ".00"),
            ("-0.004", "S999", "  +0"),
            ("-0.004", "SG999", "+  0"),
            ("-0.5", "\"n=\"999", "n=  -1"),
            ("-0.5", "9.99", " -.50"),
            ("-0.5", "PL999", "   -1"),
            ("-5", "FM9,999,999.00", "-5.00"),
            ("-5", "FM999", "-5"),
            ("-5", "MI999", "-  5"),
            ("-5", "S999", "  -5"),
            ("0", "\"n=\"999", "n=   0"),
            ("0", "$999.99", "$    .00"),
            ("0", "0999", " 0000"),
            ("0", "9,999", "     0"),
            ("0", "9.99EEEE", " 0.00e+00"),
            ("0", "9990", "    0"),
            ("0", "999PR", "   0 "),
            ("0", "999S", "  0+"),
            ("0", "MI999", "   0"),
            ("0", "PL999", "+   0"),
            ("0.5", "$999.99", "$    .50"),
            ("0.5", "9,999", "     1"),
            ("0.5", "9.99", "  .50"),
            ("0.5", "9999.99", "     .50"),
            ("0.5", "FM999", "1"),
            ("1234567.891", "0.99", " #.##"),
            ("1234567.891", "9.99", " #.##"),
            ("1234567.891", "FM0.99", "#.##"),
            ("1234567.891", "FM0000", "####"),
            ("99.995", "0999", " 0100"),
            ("99.995", "999PR", " 100 "),
            ("99.995", "999S", "100+"),
            ("99.995", "FM0.99", "#.##"),
            ("99.995", "FM0000", "0100"),
            ("99.995", "FM9,999,999.00", "100.00"),
            ("99.995", "FM9990.0099", "99.995"),
            ("99.995", "MI999", " 100"),
        ];
        for (value, template, expected) in cases {
            assert_eq!(
                to_char(value, template),
                expected,
                "to_char({value}, '{template}')"
            );
        }
    }

    #[test]
    fn doubles_round_as_printf_and_patterns_it_lacks_are_named() {
        let t = NumberTemplate::parse("9.99").expect("a template");
        assert_eq!(t.format(&Digits::from_double(0.125, 2, false)), "  .12");
        assert_eq!(t.format(&Digits::from_double(-1.005, 2, false)), "-1.00");
        assert_eq!(NumberTemplate::parse("99V9"), Err(Unsupported("V")));
        assert_eq!(NumberTemplate::parse("FM9th"), Err(Unsupported("TH")));
        assert_eq!(to_char("5", "L999"), "    5");
    }
}
