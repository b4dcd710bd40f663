//! Tokenizer and precedence-climbing parser for FHIRPath expressions
//! ([grammar](https://hl7.org/fhirpath/N1/grammar.html)).

use super::FhirPathError;
use super::value::{Decimal, Quantity, Temporal, calendar_unit};

/// A literal value in the expression text.
#[derive(Debug, Clone)]
pub(crate) enum Literal {
    Empty,
    Bool(bool),
    Str(String),
    Int(i64),
    Dec(Decimal),
    Date(Temporal),
    DateTime(Temporal),
    Time(Temporal),
    Quantity(Quantity),
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Mul,
    Div,
    IntDiv,
    Mod,
    Add,
    Sub,
    Concat,
    Union,
    Lt,
    Gt,
    Le,
    Ge,
    Eq,
    Ne,
    Equiv,
    NotEquiv,
    In,
    Contains,
    And,
    Or,
    Xor,
    Implies,
}

/// A parsed expression tree.
#[derive(Debug, Clone)]
pub(crate) enum Ast {
    Literal(Literal),
    /// An identifier evaluated on the current focus (member or, at the head, type name).
    Ident(String),
    This,
    Index,
    Total,
    /// `%name`.
    Env(String),
    /// `target.name`.
    Member(Box<Ast>, String),
    /// `target.fn(args)`, or `fn(args)` on the focus when the target is `None`.
    Call(Option<Box<Ast>>, String, Vec<Ast>),
    Indexer(Box<Ast>, Box<Ast>),
    Neg(Box<Ast>),
    Binary(BinOp, Box<Ast>, Box<Ast>),
    Is(Box<Ast>, String),
    As(Box<Ast>, String),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    /// A `backtick` delimited identifier (never a keyword).
    Quoted(String),
    Str(String),
    Num(String),
    /// `@...` temporal literal body, including the `@`.
    Temporal(String),
    Env(String),
    Sym(&'static str),
}

struct Lexer<'t> {
    src: &'t str,
    pos: usize,
}

const SYMBOLS: [&str; 22] = [
    "<=", ">=", "!=", "!~", ".", "[", "]", "(", ")", "{", "}", ",", "+", "-", "*", "/", "|", "&",
    "=", "~", "<", ">",
];

fn syntax(pos: usize, message: impl Into<String>) -> FhirPathError {
    FhirPathError::Syntax {
        position: pos,
        message: message.into(),
    }
}

impl<'t> Lexer<'t> {
    fn rest(&self) -> &'t str {
        &self.src[self.pos..]
    }

    fn skip_trivia(&mut self) -> Result<(), FhirPathError> {
        loop {
            let r = self.rest();
            let trimmed = r.trim_start();
            self.pos += r.len() - trimmed.len();
            if trimmed.starts_with("//") {
                self.pos += trimmed.find('\n').unwrap_or(trimmed.len());
            } else if let Some(body) = trimmed.strip_prefix("/*") {
                let end = body
                    .find("*/")
                    .ok_or_else(|| syntax(self.pos, "unterminated comment"))?;
                self.pos += end + 4;
            } else {
                return Ok(());
            }
        }
    }

    fn quoted(&mut self, delim: char) -> Result<String, FhirPathError> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            if c == delim {
                self.pos += i + 1;
                return Ok(out);
            }
            if c == '\\' {
                let Some((_, e)) = chars.next() else { break };
                match e {
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    'f' => out.push('\u{c}'),
                    'u' => {
                        let hex: String = (0..4)
                            .filter_map(|_| chars.next().map(|(_, h)| h))
                            .collect();
                        let code = u32::from_str_radix(&hex, 16)
                            .map_err(|_| syntax(start, "bad \\u escape"))?;
                        out.push(
                            char::from_u32(code).ok_or_else(|| syntax(start, "bad \\u escape"))?,
                        );
                    }
                    other => out.push(other),
                }
            } else {
                out.push(c);
            }
        }
        Err(syntax(start, "unterminated string"))
    }

    fn tokens(mut self) -> Result<Vec<(usize, Tok)>, FhirPathError> {
        let mut out = Vec::new();
        loop {
            self.skip_trivia()?;
            let start = self.pos;
            let r = self.rest();
            let Some(c) = r.chars().next() else {
                return Ok(out);
            };
            let tok = if c == '\'' {
                Tok::Str(self.quoted('\'')?)
            } else if c == '`' {
                Tok::Quoted(self.quoted('`')?)
            } else if c == '%' {
                self.pos += 1;
                match self.rest().chars().next() {
                    Some('`') => Tok::Env(self.quoted('`')?),
                    Some('\'') => Tok::Env(self.quoted('\'')?),
                    _ => {
                        let n = ident_len(self.rest());
                        if n == 0 {
                            return Err(syntax(start, "expected a name after %"));
                        }
                        let name = self.rest()[..n].to_owned();
                        self.pos += n;
                        Tok::Env(name)
                    }
                }
            } else if c == '@' {
                let n = temporal_len(&r[1..]);
                self.pos += n + 1;
                Tok::Temporal(r[..n + 1].to_owned())
            } else if c.is_ascii_digit() {
                let mut n = r.bytes().take_while(u8::is_ascii_digit).count();
                let b = r.as_bytes();
                if b.get(n) == Some(&b'.') && b.get(n + 1).is_some_and(u8::is_ascii_digit) {
                    n += 1 + r[n + 1..].bytes().take_while(u8::is_ascii_digit).count();
                }
                self.pos += n;
                Tok::Num(r[..n].to_owned())
            } else if c == '$' || c == '_' || c.is_alphabetic() {
                let n = 1 + ident_len(&r[1..]);
                self.pos += n;
                Tok::Ident(r[..n].to_owned())
            } else if let Some(s) = SYMBOLS.iter().find(|s| r.starts_with(**s)) {
                self.pos += s.len();
                Tok::Sym(s)
            } else {
                return Err(syntax(start, format!("unexpected character {c:?}")));
            };
            out.push((start, tok));
        }
    }
}

fn ident_len(s: &str) -> usize {
    s.char_indices()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
        .map_or(s.len(), |(i, _)| i)
}

/// Length of a temporal literal body after `@`.
fn temporal_len(s: &str) -> usize {
    let b = s.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
    };
    let time = |i: &mut usize| {
        digits(i);
        while *i < b.len()
            && (b[*i] == b':' || b[*i] == b'.')
            && b.get(*i + 1).is_some_and(u8::is_ascii_digit)
        {
            *i += 1;
            digits(i);
        }
        if *i < b.len() && b[*i] == b'Z' {
            *i += 1;
        } else if *i + 5 < b.len()
            && (b[*i] == b'+' || b[*i] == b'-')
            && b[*i + 1].is_ascii_digit()
            && b[*i + 2].is_ascii_digit()
            && b[*i + 3] == b':'
        {
            *i += 6.min(b.len() - *i);
        }
    };
    if b.first() == Some(&b'T') {
        i = 1;
        time(&mut i);
        return i;
    }
    digits(&mut i);
    while i < b.len() && b[i] == b'-' && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        i += 1;
        digits(&mut i);
    }
    if i < b.len() && b[i] == b'T' {
        i += 1;
        if b.get(i).is_some_and(u8::is_ascii_digit) {
            time(&mut i);
        }
    }
    i
}

fn parse_temporal(text: &str, pos: usize) -> Result<Literal, FhirPathError> {
    let body = &text[1..];
    let bad = || syntax(pos, format!("invalid date/time literal {text}"));
    if let Some(t) = body.strip_prefix('T') {
        if t.ends_with('Z') || t.contains('+') || t.contains('-') {
            return Err(syntax(pos, "a time literal has no timezone"));
        }
        return Temporal::parse_time(t).map(Literal::Time).ok_or_else(bad);
    }
    if body.contains('T') {
        return Temporal::parse_datetime(body.trim_end_matches('T'))
            .map(Literal::DateTime)
            .ok_or_else(bad);
    }
    Temporal::parse_date(body)
        .map(Literal::Date)
        .ok_or_else(bad)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    i: usize,
    end: usize,
}

fn prec(op: BinOp) -> u8 {
    use BinOp::*;
    match op {
        Implies => 1,
        Or | Xor => 2,
        And => 3,
        In | Contains => 4,
        Eq | Ne | Equiv | NotEquiv => 5,
        Lt | Gt | Le | Ge => 6,
        Union => 7,
        Add | Sub | Concat => 9,
        Mul | Div | IntDiv | Mod => 10,
    }
}

/// Precedence of `is`/`as` (between `|` and `+`).
const TYPE_PREC: u8 = 8;

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i).map(|(_, t)| t)
    }

    fn pos(&self) -> usize {
        self.toks.get(self.i).map_or(self.end, |(p, _)| *p)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.i).map(|(_, t)| t.clone());
        self.i += 1;
        t
    }

    fn eat(&mut self, sym: &str) -> bool {
        if self.peek() == Some(&Tok::Sym(sym_static(sym))) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, sym: &str) -> Result<(), FhirPathError> {
        if self.eat(sym) {
            Ok(())
        } else {
            Err(syntax(self.pos(), format!("expected {sym}")))
        }
    }

    fn binop(&self) -> Option<BinOp> {
        use BinOp::*;
        Some(match self.peek()? {
            Tok::Sym(s) => match *s {
                "*" => Mul,
                "/" => Div,
                "+" => Add,
                "-" => Sub,
                "&" => Concat,
                "|" => Union,
                "<" => Lt,
                ">" => Gt,
                "<=" => Le,
                ">=" => Ge,
                "=" => Eq,
                "!=" => Ne,
                "~" => Equiv,
                "!~" => NotEquiv,
                _ => return None,
            },
            Tok::Ident(s) => match s.as_str() {
                "div" => IntDiv,
                "mod" => Mod,
                "in" => In,
                "contains" => Contains,
                "and" => And,
                "or" => Or,
                "xor" => Xor,
                "implies" => Implies,
                _ => return None,
            },
            _ => return None,
        })
    }

    fn expr(&mut self, min: u8) -> Result<Ast, FhirPathError> {
        let mut lhs = self.unary()?;
        loop {
            if let Some(Tok::Ident(kw)) = self.peek()
                && (kw == "is" || kw == "as")
                && TYPE_PREC >= min
            {
                let is = kw == "is";
                self.i += 1;
                let ty = self.type_spec()?;
                lhs = if is {
                    Ast::Is(Box::new(lhs), ty)
                } else {
                    Ast::As(Box::new(lhs), ty)
                };
                continue;
            }
            let Some(op) = self.binop() else { break };
            let p = prec(op);
            if p < min {
                break;
            }
            self.i += 1;
            let rhs = self.expr(p + 1)?;
            lhs = Ast::Binary(op, Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn type_spec(&mut self) -> Result<String, FhirPathError> {
        let mut name = self.ident()?;
        while self.eat(".") {
            name.push('.');
            name.push_str(&self.ident()?);
        }
        Ok(name)
    }

    fn ident(&mut self) -> Result<String, FhirPathError> {
        match self.next() {
            Some(Tok::Ident(s) | Tok::Quoted(s)) => Ok(s),
            _ => Err(syntax(self.pos(), "expected an identifier")),
        }
    }

    fn unary(&mut self) -> Result<Ast, FhirPathError> {
        if self.eat("-") {
            let inner = self.unary()?;
            return Ok(match inner {
                Ast::Literal(Literal::Int(i)) => Ast::Literal(Literal::Int(-i)),
                Ast::Literal(Literal::Dec(d)) => Ast::Literal(Literal::Dec(d.neg())),
                other => Ast::Neg(Box::new(other)),
            });
        }
        if self.eat("+") {
            return self.unary();
        }
        let mut e = self.term()?;
        loop {
            if self.eat(".") {
                let pos = self.pos();
                let name = self
                    .ident()
                    .map_err(|_| syntax(pos, "expected a name after ."))?;
                if self.eat("(") {
                    let args = self.args()?;
                    e = Ast::Call(Some(Box::new(e)), name, args);
                } else {
                    e = Ast::Member(Box::new(e), name);
                }
            } else if self.eat("[") {
                let idx = self.expr(0)?;
                self.expect("]")?;
                e = Ast::Indexer(Box::new(e), Box::new(idx));
            } else {
                return Ok(e);
            }
        }
    }

    fn args(&mut self) -> Result<Vec<Ast>, FhirPathError> {
        let mut args = Vec::new();
        if self.eat(")") {
            return Ok(args);
        }
        loop {
            args.push(self.expr(0)?);
            if self.eat(")") {
                return Ok(args);
            }
            self.expect(",")?;
        }
    }

    fn term(&mut self) -> Result<Ast, FhirPathError> {
        let pos = self.pos();
        let Some(tok) = self.next() else {
            return Err(syntax(pos, "unexpected end of expression"));
        };
        Ok(match tok {
            Tok::Sym("(") => {
                let e = self.expr(0)?;
                self.expect(")")?;
                e
            }
            Tok::Sym("{") => {
                self.expect("}")?;
                Ast::Literal(Literal::Empty)
            }
            Tok::Sym(s) => return Err(syntax(pos, format!("unexpected {s}"))),
            Tok::Str(s) => Ast::Literal(Literal::Str(s)),
            Tok::Num(n) => {
                let unit = match self.peek() {
                    Some(Tok::Str(u)) => Some(u.clone()),
                    Some(Tok::Ident(u)) if calendar_unit(u).is_some() => Some(u.clone()),
                    _ => None,
                };
                let dec = || Decimal::parse(&n).ok_or_else(|| syntax(pos, "bad number"));
                if let Some(unit) = unit {
                    self.i += 1;
                    Ast::Literal(Literal::Quantity(Quantity {
                        value: dec()?,
                        unit,
                    }))
                } else if n.contains('.') {
                    Ast::Literal(Literal::Dec(dec()?))
                } else {
                    match n.parse::<i64>() {
                        Ok(i) => Ast::Literal(Literal::Int(i)),
                        Err(_) => Ast::Literal(Literal::Dec(dec()?)),
                    }
                }
            }
            Tok::Temporal(t) => Ast::Literal(parse_temporal(&t, pos)?),
            Tok::Env(name) => Ast::Env(name),
            Tok::Quoted(name) => self.ident_or_call(name)?,
            Tok::Ident(name) => match name.as_str() {
                "true" => Ast::Literal(Literal::Bool(true)),
                "false" => Ast::Literal(Literal::Bool(false)),
                "$this" => Ast::This,
                "$index" => Ast::Index,
                "$total" => Ast::Total,
                n if n.starts_with('$') => {
                    return Err(syntax(pos, format!("unknown variable {n}")));
                }
                _ => self.ident_or_call(name)?,
            },
        })
    }

    fn ident_or_call(&mut self, name: String) -> Result<Ast, FhirPathError> {
        if self.eat("(") {
            let args = self.args()?;
            Ok(Ast::Call(None, name, args))
        } else {
            Ok(Ast::Ident(name))
        }
    }
}

fn sym_static(s: &str) -> &'static str {
    SYMBOLS.iter().find(|x| **x == s).copied().unwrap_or("")
}

/// Parses expression text into a tree.
pub(crate) fn parse_ast(text: &str) -> Result<Ast, FhirPathError> {
    let toks = Lexer { src: text, pos: 0 }.tokens()?;
    let mut p = Parser {
        toks,
        i: 0,
        end: text.len(),
    };
    let ast = p.expr(0)?;
    if p.i < p.toks.len() {
        return Err(syntax(p.pos(), "unexpected text after the expression"));
    }
    Ok(ast)
}
