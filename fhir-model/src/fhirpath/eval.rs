//! The evaluator: walks the expression tree over collections of [`Item`]s, typing every
//! node from the element model, and the FHIRPath function library.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::sync::OnceLock;

use serde_json::{Map, Value as Json};

use super::parser::{Ast, BinOp, Literal};
use super::value::{Decimal, Quantity, Temporal, TemporalKind, calendar_unit, civil_from_days};
use super::{FhirPathError, Item, Node, Val};
use crate::definitions::{TypeKind, is_resource_type, type_def};

type R<T> = Result<T, FhirPathError>;
type Coll<'a> = Vec<Item<'a>>;

fn semantic(msg: impl Into<String>) -> FhirPathError {
    FhirPathError::Semantic(msg.into())
}

fn eval_err(msg: impl Into<String>) -> FhirPathError {
    FhirPathError::Evaluation(msg.into())
}

/// `$this`, `$index` and `$total` inside function arguments.
#[derive(Clone, Copy, Default)]
struct Scope<'s, 'a> {
    this: Option<&'s Item<'a>>,
    index: Option<usize>,
    total: Option<&'s [Item<'a>]>,
}

/// Evaluates expressions against one resource.
pub(crate) struct Evaluator<'a> {
    root: &'a Json,
    root_item: Item<'a>,
}

/// The empty object `resolve()` stubs point at.
fn empty_object() -> &'static Json {
    static EMPTY: OnceLock<Json> = OnceLock::new();
    EMPTY.get_or_init(|| Json::Object(Map::new()))
}

const SYSTEM_TYPES: [&str; 9] = [
    "Boolean", "Integer", "Decimal", "String", "Date", "DateTime", "Time", "Quantity", "Any",
];

impl<'a> Evaluator<'a> {
    pub(crate) fn new(root: &'a Json) -> Self {
        let ty = root.get("resourceType").and_then(Json::as_str);
        let root_item = Item::node(Node {
            root,
            value: Some(root),
            ext: None,
            ty,
        });
        Evaluator { root, root_item }
    }

    pub(crate) fn run(&self, ast: &Ast) -> R<Coll<'a>> {
        let input = vec![self.root_item.clone()];
        self.eval(ast, &input, Scope::default())
    }

    /// Evaluates with `focus` (an item of this resource) as the input collection.
    pub(crate) fn run_on(&self, ast: &Ast, focus: &Item<'a>) -> R<Coll<'a>> {
        self.eval(ast, std::slice::from_ref(focus), Scope::default())
    }

    fn eval(&self, ast: &Ast, focus: &[Item<'a>], sc: Scope<'_, 'a>) -> R<Coll<'a>> {
        Ok(match ast {
            Ast::Literal(l) => literal(l),
            Ast::Ident(name) => {
                let mut out = Vec::new();
                let mut unknown = None;
                for it in focus {
                    if let Val::Node(n) = &it.val
                        && name.starts_with(|c: char| c.is_ascii_uppercase())
                        && n.ty
                            .is_some_and(|t| is_resource_type(t) && derives_from(t, name))
                    {
                        out.push(it.clone());
                        continue;
                    }
                    self.member(it, name, &mut out, &mut unknown);
                }
                check_known(focus.len(), unknown)?;
                out
            }
            Ast::This => match sc.this {
                Some(t) => vec![t.clone()],
                None => focus.to_vec(),
            },
            Ast::Index => sc
                .index
                .map(|i| vec![Item::new(Val::Int(i as i64))])
                .unwrap_or_default(),
            Ast::Total => sc.total.map(<[Item<'a>]>::to_vec).unwrap_or_default(),
            Ast::Env(name) => self.env(name)?,
            Ast::Member(target, name) => {
                let base = self.eval(target, focus, sc)?;
                let mut out = Vec::new();
                let mut unknown = None;
                for it in &base {
                    self.member(it, name, &mut out, &mut unknown);
                }
                check_known(base.len(), unknown)?;
                out
            }
            Ast::Call(target, name, args) => {
                let base = match target {
                    Some(t) => self.eval(t, focus, sc)?,
                    None => focus.to_vec(),
                };
                self.call(name, base, args, focus, sc)?
            }
            Ast::Indexer(target, index) => {
                let base = self.eval(target, focus, sc)?;
                let idx = self.eval(index, focus, sc)?;
                match single_val(&idx, "indexer")? {
                    Some(Val::Int(i)) if i >= 0 => {
                        base.into_iter().nth(i as usize).into_iter().collect()
                    }
                    Some(Val::Int(_)) | None => Vec::new(),
                    Some(_) => return Err(eval_err("an index must be an integer")),
                }
            }
            Ast::Neg(inner) => {
                let v = self.eval(inner, focus, sc)?;
                match single_val(&v, "unary minus")? {
                    None => Vec::new(),
                    Some(Val::Int(i)) => vec![Item::new(Val::Int(-i))],
                    Some(Val::Dec(d)) => vec![Item::new(Val::Dec(d.neg()))],
                    Some(Val::Quantity(q)) => {
                        vec![Item::new(Val::Quantity(Quantity {
                            value: q.value.neg(),
                            unit: q.unit,
                        }))]
                    }
                    Some(_) => return Err(eval_err("unary minus needs a number")),
                }
            }
            Ast::Binary(op, l, r) => self.binary(*op, l, r, focus, sc)?,
            Ast::Is(e, ty) => {
                let v = self.eval(e, focus, sc)?;
                check_type_name(ty)?;
                match v.as_slice() {
                    [] => Vec::new(),
                    [one] => vec![bool_item(type_matches(one, ty, false))],
                    _ => return Err(eval_err("'is' needs a single item")),
                }
            }
            Ast::As(e, ty) => {
                let v = self.eval(e, focus, sc)?;
                check_type_name(ty)?;
                if v.len() > 1 {
                    return Err(eval_err("'as' needs a single item"));
                }
                v.into_iter()
                    .filter(|i| type_matches(i, ty, true))
                    .collect()
            }
        })
    }

    fn env(&self, name: &str) -> R<Coll<'a>> {
        let s = |v: String| Ok(vec![Item::new(Val::Str(Cow::Owned(v)))]);
        match name {
            "resource" | "context" | "rootResource" => Ok(vec![self.root_item.clone()]),
            "ucum" => s("http://unitsofmeasure.org".into()),
            "sct" => s("http://snomed.info/sct".into()),
            "loinc" => s("http://loinc.org".into()),
            n if n.starts_with("vs-") => s(format!("http://hl7.org/fhir/ValueSet/{}", &n[3..])),
            n if n.starts_with("ext-") => s(format!(
                "http://hl7.org/fhir/StructureDefinition/{}",
                &n[4..]
            )),
            n => Err(semantic(format!("unknown variable %{n}"))),
        }
    }

    /// Navigates to the children called `name`. Typed nodes that have no such element
    /// are counted in `unknown` (with the last such error).
    fn member(
        &self,
        item: &Item<'a>,
        name: &str,
        out: &mut Coll<'a>,
        unknown: &mut Option<(usize, FhirPathError)>,
    ) {
        match &item.val {
            Val::Node(n) => {
                if let Err(e) = self.node_children(n, name, out) {
                    let count = unknown.as_ref().map_or(0, |u| u.0);
                    *unknown = Some((count + 1, e));
                }
            }
            Val::Type {
                namespace,
                name: tn,
            } => match name {
                "name" => out.push(Item::new(Val::Str(Cow::Owned(tn.clone())))),
                "namespace" => out.push(Item::new(Val::Str(Cow::Borrowed(namespace)))),
                _ => {}
            },
            _ => {}
        }
    }

    fn node_children(&self, n: &Node<'a>, name: &str, out: &mut Coll<'a>) -> R<()> {
        let obj = match n.value {
            Some(Json::Object(o)) => Some(o),
            Some(_) => n.ext.and_then(Json::as_object),
            None => n.ext.and_then(Json::as_object),
        };
        let td = n.ty.and_then(type_def);
        let Some(td) = td else {
            if let Some(obj) = obj {
                self.push_values(obj.get(name), ext_of(obj, name), None, out);
            }
            return Ok(());
        };
        // One scan finds the element by name; JSON choice names (`valueQuantity`) go
        // through `TypeDef::element`.
        let by_name = td.elements.iter().find(|d| d.name == name);
        if let Some(def) = by_name.filter(|d| d.choice) {
            let Some(obj) = obj else { return Ok(()) };
            for (k, v) in obj {
                let key = k.strip_prefix('_').unwrap_or(k);
                if key.len() > name.len()
                    && key.starts_with(name)
                    && key.as_bytes()[name.len()].is_ascii_uppercase()
                {
                    if k.starts_with('_') && obj.contains_key(key) {
                        continue;
                    }
                    if let Some(e2) = td.element(key)
                        && std::ptr::eq(e2.def, def)
                    {
                        let (value, ext) = if k.starts_with('_') {
                            (None, Some(v))
                        } else {
                            (Some(v), ext_of(obj, k))
                        };
                        self.push_values(value, ext, e2.type_name, out);
                    }
                }
            }
            return Ok(());
        }
        let type_name = match by_name {
            Some(def) => (def.types.len() == 1).then(|| def.types[0].as_str()),
            None => match td.element(name) {
                Some(el) => el.type_name,
                None => {
                    return Err(semantic(format!(
                        "{} has no element '{name}'",
                        n.ty.unwrap_or_default()
                    )));
                }
            },
        };
        let Some(obj) = obj else { return Ok(()) };
        let value = obj.get(name);
        // FHIR primitive type names are the lower-case ones.
        let prim = type_name.is_none_or(|t| t.starts_with(|c: char| c.is_ascii_lowercase()));
        let ext = if prim { ext_of(obj, name) } else { None };
        self.push_values(value, ext, type_name, out);
        Ok(())
    }

    fn push_values(
        &self,
        value: Option<&'a Json>,
        ext: Option<&'a Json>,
        ty: Option<&'a str>,
        out: &mut Coll<'a>,
    ) {
        let node = |value: Option<&'a Json>, ext: Option<&'a Json>| {
            let value = value.filter(|v| !v.is_null());
            let ext = ext.filter(|v| !v.is_null());
            if value.is_none() && ext.is_none() {
                return None;
            }
            let ty = match value {
                Some(Json::Object(o))
                    if ty.is_none_or(|t| t == "Resource" || t == "DomainResource") =>
                {
                    o.get("resourceType").and_then(Json::as_str).or(ty)
                }
                _ => ty,
            };
            Some(Item::node(Node {
                root: self.root,
                value,
                ext,
                ty,
            }))
        };
        let is_array = matches!(value, Some(Json::Array(_)))
            || (value.is_none() && matches!(ext, Some(Json::Array(_))));
        if is_array {
            let vs: &[Json] = value.and_then(Json::as_array).map_or(&[], Vec::as_slice);
            let es = ext.and_then(Json::as_array);
            let len = vs.len().max(es.map_or(0, Vec::len));
            for i in 0..len {
                if let Some(it) = node(vs.get(i), es.and_then(|e| e.get(i))) {
                    out.push(it);
                }
            }
        } else if let Some(it) = node(value, ext) {
            out.push(it);
        }
    }

    /// Every child node (`children()`).
    fn all_children(&self, n: &Node<'a>, out: &mut Coll<'a>) {
        let obj = match n.value {
            Some(Json::Object(o)) => o,
            _ => match n.ext.and_then(Json::as_object) {
                Some(o) => o,
                None => return,
            },
        };
        let td = n.ty.and_then(type_def);
        let ty_of = |k: &str| td.and_then(|t| t.element(k)).and_then(|e| e.type_name);
        for (k, v) in obj {
            if k == "resourceType" {
                continue;
            }
            if let Some(base) = k.strip_prefix('_') {
                if !obj.contains_key(base) {
                    self.push_values(None, Some(v), ty_of(base), out);
                }
                continue;
            }
            self.push_values(Some(v), ext_of(obj, k), ty_of(k), out);
        }
    }

    fn binary(
        &self,
        op: BinOp,
        l: &Ast,
        r: &Ast,
        focus: &[Item<'a>],
        sc: Scope<'_, 'a>,
    ) -> R<Coll<'a>> {
        let a = self.eval(l, focus, sc)?;
        // `implies`, `and`, `or` could short-circuit; both sides are cheap enough to evaluate.
        let b = self.eval(r, focus, sc)?;
        use BinOp::*;
        match op {
            Union => {
                let mut out: Coll<'a> = Vec::with_capacity(a.len() + b.len());
                for it in a.into_iter().chain(b) {
                    if !out.iter().any(|o| eq_items(o, &it) == Some(true)) {
                        out.push(it);
                    }
                }
                Ok(out)
            }
            And | Or | Xor | Implies => {
                let x = bool_of(&a)?;
                let y = bool_of(&b)?;
                let r = match op {
                    And => match (x, y) {
                        (Some(false), _) | (_, Some(false)) => Some(false),
                        (Some(true), Some(true)) => Some(true),
                        _ => None,
                    },
                    Or => match (x, y) {
                        (Some(true), _) | (_, Some(true)) => Some(true),
                        (Some(false), Some(false)) => Some(false),
                        _ => None,
                    },
                    Xor => match (x, y) {
                        (Some(x), Some(y)) => Some(x != y),
                        _ => None,
                    },
                    _ => match (x, y) {
                        (Some(false), _) | (_, Some(true)) => Some(true),
                        (Some(true), Some(false)) => Some(false),
                        _ => None,
                    },
                };
                Ok(opt_bool(r))
            }
            Eq | Ne => {
                if a.is_empty() || b.is_empty() {
                    return Ok(Vec::new());
                }
                let r = if a.len() != b.len() {
                    Some(false)
                } else {
                    let mut all = Some(true);
                    for (x, y) in a.iter().zip(&b) {
                        match eq_items(x, y) {
                            Some(true) => {}
                            Some(false) => {
                                all = Some(false);
                                break;
                            }
                            None => all = None,
                        }
                    }
                    all
                };
                Ok(opt_bool(if op == Ne { r.map(|v| !v) } else { r }))
            }
            Equiv | NotEquiv => {
                let r = a.len() == b.len()
                    && a.iter().all(|x| b.iter().any(|y| equiv_items(x, y)))
                    && b.iter().all(|y| a.iter().any(|x| equiv_items(x, y)));
                Ok(vec![bool_item(if op == NotEquiv { !r } else { r })])
            }
            Lt | Gt | Le | Ge => {
                let (Some(x), Some(y)) =
                    (single_val(&a, "comparison")?, single_val(&b, "comparison")?)
                else {
                    return Ok(Vec::new());
                };
                let Some(ord) = compare_vals(&x, &y)? else {
                    return Ok(Vec::new());
                };
                let r = match op {
                    Lt => ord == Ordering::Less,
                    Gt => ord == Ordering::Greater,
                    Le => ord != Ordering::Greater,
                    _ => ord != Ordering::Less,
                };
                Ok(vec![bool_item(r)])
            }
            In | Contains => {
                let (needle, hay) = if op == In { (&a, &b) } else { (&b, &a) };
                match needle.as_slice() {
                    [] => Ok(Vec::new()),
                    [one] => Ok(vec![bool_item(
                        hay.iter().any(|h| eq_items(one, h) == Some(true)),
                    )]),
                    _ => Err(eval_err("'in'/'contains' needs a single item")),
                }
            }
            Concat => {
                let s = |c: &Coll<'a>| -> R<String> {
                    Ok(match single_val(c, "&")? {
                        None => String::new(),
                        Some(Val::Str(s)) => s.into_owned(),
                        Some(v) => to_string_val(&v).unwrap_or_default(),
                    })
                };
                Ok(vec![Item::new(Val::Str(Cow::Owned(s(&a)? + &s(&b)?)))])
            }
            Add | Sub | Mul | Div | IntDiv | Mod => {
                let (Some(x), Some(y)) =
                    (single_val(&a, "arithmetic")?, single_val(&b, "arithmetic")?)
                else {
                    return Ok(Vec::new());
                };
                Ok(arith(op, x, y)?.map(Item::new).into_iter().collect())
            }
        }
    }

    fn call(
        &self,
        name: &str,
        input: Coll<'a>,
        args: &[Ast],
        focus: &[Item<'a>],
        sc: Scope<'_, 'a>,
    ) -> R<Coll<'a>> {
        let nargs = |n: std::ops::RangeInclusive<usize>| -> R<()> {
            if n.contains(&args.len()) {
                Ok(())
            } else {
                Err(semantic(format!(
                    "{name}() takes {n:?} arguments, got {}",
                    args.len()
                )))
            }
        };
        // Evaluates a non-lambda argument against the outer focus.
        let arg = |i: usize| self.eval(&args[i], focus, sc);
        // Evaluates a lambda argument for each input item.
        let per_item = |i: usize, ast: &Ast| -> R<Coll<'a>> {
            let it = &input[i];
            self.eval(
                ast,
                std::slice::from_ref(it),
                Scope {
                    this: Some(it),
                    index: Some(i),
                    total: sc.total,
                },
            )
        };
        let bools = |v: bool| Ok(vec![bool_item(v)]);
        match name {
            "empty" => {
                nargs(0..=0)?;
                bools(input.is_empty())
            }
            "exists" => {
                nargs(0..=1)?;
                if args.is_empty() {
                    return bools(!input.is_empty());
                }
                for i in 0..input.len() {
                    if bool_of(&per_item(i, &args[0])?)? == Some(true) {
                        return bools(true);
                    }
                }
                bools(false)
            }
            "all" => {
                nargs(1..=1)?;
                for i in 0..input.len() {
                    if bool_of(&per_item(i, &args[0])?)? != Some(true) {
                        return bools(false);
                    }
                }
                bools(true)
            }
            "allTrue" | "anyTrue" | "allFalse" | "anyFalse" => {
                nargs(0..=0)?;
                let mut vals = Vec::new();
                for it in &input {
                    match it.system() {
                        Some(Val::Bool(b)) => vals.push(b),
                        _ => return Err(eval_err(format!("{name}() needs booleans"))),
                    }
                }
                bools(match name {
                    "allTrue" => vals.iter().all(|b| *b),
                    "anyTrue" => vals.iter().any(|b| *b),
                    "allFalse" => vals.iter().all(|b| !*b),
                    _ => vals.iter().any(|b| !*b),
                })
            }
            "subsetOf" | "supersetOf" => {
                nargs(1..=1)?;
                let other = arg(0)?;
                let (sub, sup) = if name == "subsetOf" {
                    (&input, &other)
                } else {
                    (&other, &input)
                };
                bools(
                    sub.iter()
                        .all(|x| sup.iter().any(|y| eq_items(x, y) == Some(true))),
                )
            }
            "count" => {
                nargs(0..=0)?;
                Ok(vec![Item::new(Val::Int(input.len() as i64))])
            }
            "distinct" => {
                nargs(0..=0)?;
                Ok(distinct(input))
            }
            "isDistinct" => {
                nargs(0..=0)?;
                let n = input.len();
                bools(distinct(input).len() == n)
            }
            "where" => {
                nargs(1..=1)?;
                let mut out = Vec::new();
                for (i, it) in input.iter().enumerate() {
                    if bool_of(&per_item(i, &args[0])?)? == Some(true) {
                        out.push(it.clone());
                    }
                }
                Ok(out)
            }
            "select" => {
                nargs(1..=1)?;
                let mut out = Vec::new();
                for i in 0..input.len() {
                    out.extend(per_item(i, &args[0])?);
                }
                Ok(out)
            }
            "repeat" => {
                nargs(1..=1)?;
                let mut out: Coll<'a> = Vec::new();
                let mut frontier = input;
                while !frontier.is_empty() {
                    let mut next = Vec::new();
                    for it in &frontier {
                        let r = self.eval(
                            &args[0],
                            std::slice::from_ref(it),
                            Scope {
                                this: Some(it),
                                ..sc
                            },
                        )?;
                        for x in r {
                            if !out.iter().any(|o| same_item(o, &x)) {
                                out.push(x.clone());
                                next.push(x);
                            }
                        }
                    }
                    frontier = next;
                }
                Ok(out)
            }
            "aggregate" => {
                nargs(1..=2)?;
                let mut total = if args.len() == 2 { arg(1)? } else { Vec::new() };
                for (i, it) in input.iter().enumerate() {
                    total = self.eval(
                        &args[0],
                        std::slice::from_ref(it),
                        Scope {
                            this: Some(it),
                            index: Some(i),
                            total: Some(&total),
                        },
                    )?;
                }
                Ok(total)
            }
            "ofType" | "as" | "is" => {
                nargs(1..=1)?;
                let ty = type_arg(&args[0])?;
                check_type_name(&ty)?;
                if name == "is" {
                    return match input.as_slice() {
                        [] => Ok(Vec::new()),
                        [one] => bools(type_matches(one, &ty, false)),
                        _ => Err(eval_err("is() needs a single item")),
                    };
                }
                if name == "as" && input.len() > 1 {
                    return Err(eval_err("as() needs a single item"));
                }
                Ok(input
                    .into_iter()
                    .filter(|i| type_matches(i, &ty, true))
                    .collect())
            }
            "type" => {
                nargs(0..=0)?;
                Ok(input.iter().map(|i| Item::new(type_info(i))).collect())
            }
            "single" => {
                nargs(0..=0)?;
                if input.len() > 1 {
                    return Err(eval_err("single() on more than one item"));
                }
                Ok(input)
            }
            "first" => {
                nargs(0..=0)?;
                Ok(input.into_iter().take(1).collect())
            }
            "last" => {
                nargs(0..=0)?;
                Ok(input.into_iter().last().into_iter().collect())
            }
            "tail" => {
                nargs(0..=0)?;
                Ok(input.into_iter().skip(1).collect())
            }
            "skip" | "take" => {
                nargs(1..=1)?;
                let n = match single_val(&arg(0)?, name)? {
                    Some(Val::Int(n)) => n.max(0) as usize,
                    None => 0,
                    Some(_) => return Err(eval_err(format!("{name}() needs an integer"))),
                };
                Ok(if name == "skip" {
                    input.into_iter().skip(n).collect()
                } else {
                    input.into_iter().take(n).collect()
                })
            }
            "intersect" | "exclude" | "union" | "combine" => {
                nargs(1..=1)?;
                let other = arg(0)?;
                Ok(match name {
                    "intersect" => distinct(
                        input
                            .into_iter()
                            .filter(|x| other.iter().any(|y| eq_items(x, y) == Some(true)))
                            .collect(),
                    ),
                    "exclude" => input
                        .into_iter()
                        .filter(|x| !other.iter().any(|y| eq_items(x, y) == Some(true)))
                        .collect(),
                    "union" => distinct(input.into_iter().chain(other).collect()),
                    _ => input.into_iter().chain(other).collect(),
                })
            }
            "iif" => {
                nargs(2..=3)?;
                if input.len() > 1 {
                    return Err(eval_err("iif() on more than one item"));
                }
                let scope = match input.first() {
                    Some(it) => Scope {
                        this: Some(it),
                        ..sc
                    },
                    None => sc,
                };
                let local: &[Item<'a>] = if input.is_empty() { focus } else { &input };
                let c = self.eval(&args[0], local, scope)?;
                let cond = match c.as_slice() {
                    [] => false,
                    [one] => match one.system() {
                        Some(Val::Bool(b)) => b,
                        _ => return Err(semantic("iif() criterion must be boolean")),
                    },
                    _ => return Err(semantic("iif() criterion must be a single boolean")),
                };
                if cond {
                    self.eval(&args[1], local, scope)
                } else if args.len() == 3 {
                    self.eval(&args[2], local, scope)
                } else {
                    Ok(Vec::new())
                }
            }
            "not" => {
                nargs(0..=0)?;
                Ok(opt_bool(bool_of(&input)?.map(|b| !b)))
            }
            "children" => {
                nargs(0..=0)?;
                let mut out = Vec::new();
                for it in &input {
                    if let Val::Node(n) = &it.val {
                        self.all_children(n, &mut out);
                    }
                }
                Ok(out)
            }
            "descendants" => {
                nargs(0..=0)?;
                let mut out = Vec::new();
                let mut frontier = input;
                while !frontier.is_empty() {
                    let mut next = Vec::new();
                    for it in &frontier {
                        if let Val::Node(n) = &it.val {
                            self.all_children(n, &mut next);
                        }
                    }
                    out.extend(next.iter().cloned());
                    frontier = next;
                }
                Ok(out)
            }
            "trace" => {
                nargs(1..=2)?;
                Ok(input)
            }
            "extension" => {
                nargs(1..=1)?;
                let url = match single_val(&arg(0)?, "extension")? {
                    Some(Val::Str(s)) => s.into_owned(),
                    _ => return Err(eval_err("extension() needs a url")),
                };
                let mut exts = Vec::new();
                for it in &input {
                    if let Val::Node(n) = &it.val {
                        let obj = match n.value {
                            Some(Json::Object(o)) => Some(o),
                            _ => n.ext.and_then(Json::as_object),
                        };
                        if let Some(obj) = obj {
                            self.push_values(
                                obj.get("extension"),
                                None,
                                Some("Extension"),
                                &mut exts,
                            );
                        }
                    }
                }
                Ok(exts
                    .into_iter()
                    .filter(|e| matches!(&e.val, Val::Node(n) if n.value.and_then(|v| v.get("url")).and_then(Json::as_str) == Some(url.as_str())))
                    .collect())
            }
            "hasValue" => {
                nargs(0..=0)?;
                bools(
                    matches!(input.as_slice(), [Item { val: Val::Node(n), .. }] if n.value.is_some_and(|v| !v.is_object() && !v.is_array())),
                )
            }
            "getValue" => {
                nargs(0..=0)?;
                Ok(match input.as_slice() {
                    [
                        it @ Item {
                            val: Val::Node(n), ..
                        },
                    ] if n.value.is_some_and(|v| !v.is_object()) => {
                        it.system().map(Item::new).into_iter().collect()
                    }
                    _ => Vec::new(),
                })
            }
            "resolve" => {
                nargs(0..=0)?;
                let mut out = Vec::new();
                for it in &input {
                    if let Some(r) = self.resolve(it) {
                        out.push(r);
                    }
                }
                Ok(out)
            }
            "htmlChecks" | "htmlchecks" => {
                nargs(0..=0)?;
                bools(true)
            }
            "conformsTo" => {
                nargs(1..=1)?;
                let url = match single_val(&arg(0)?, name)? {
                    Some(Val::Str(s)) => s.into_owned(),
                    _ => return Err(eval_err("conformsTo() needs a url")),
                };
                let Some(ty) = url.strip_prefix("http://hl7.org/fhir/StructureDefinition/") else {
                    return Err(eval_err(format!("unknown profile {url}")));
                };
                if type_def(ty).is_none() {
                    return Err(eval_err(format!("unknown profile {url}")));
                }
                Ok(input
                    .iter()
                    .map(|i| bool_item(type_matches(i, ty, false)))
                    .collect())
            }
            "sort" => {
                // Sort keys: `-expr` sorts descending on expr.
                let keys: Vec<(&Ast, bool)> = args
                    .iter()
                    .map(|a| match a {
                        Ast::Neg(inner) => (inner.as_ref(), true),
                        other => (other, false),
                    })
                    .collect();
                let mut rows = Vec::with_capacity(input.len());
                for (i, it) in input.iter().enumerate() {
                    let mut k = Vec::with_capacity(keys.len().max(1));
                    if keys.is_empty() {
                        k.push(it.system());
                    }
                    for (ast, _) in &keys {
                        k.push(single_val(&per_item(i, ast)?, "sort")?);
                    }
                    rows.push((k, it.clone()));
                }
                rows.sort_by(|(a, _), (b, _)| {
                    for (j, (x, y)) in a.iter().zip(b).enumerate() {
                        let desc = keys.get(j).is_some_and(|k| k.1);
                        let ord = match (x, y) {
                            (Some(x), Some(y)) => {
                                compare_vals(x, y).ok().flatten().unwrap_or(Ordering::Equal)
                            }
                            (None, Some(_)) => Ordering::Less,
                            (Some(_), None) => Ordering::Greater,
                            (None, None) => Ordering::Equal,
                        };
                        // Empty keys come first in either direction.
                        let ord = if desc && x.is_some() && y.is_some() {
                            ord.reverse()
                        } else {
                            ord
                        };
                        if ord != Ordering::Equal {
                            return ord;
                        }
                    }
                    Ordering::Equal
                });
                Ok(rows.into_iter().map(|(_, it)| it).collect())
            }
            "today" | "now" | "timeOfDay" => {
                nargs(0..=0)?;
                Ok(vec![Item::new(Val::Temporal(now(name)))])
            }
            _ => self.call_scalar(name, input, args, &arg),
        }
    }

    /// Functions on a single (or empty) input value.
    fn call_scalar(
        &self,
        name: &str,
        input: Coll<'a>,
        args: &[Ast],
        arg: &dyn Fn(usize) -> R<Coll<'a>>,
    ) -> R<Coll<'a>> {
        let arity: std::ops::RangeInclusive<usize> = match name {
            "toBoolean" | "convertsToBoolean" | "toInteger" | "convertsToInteger" | "toDecimal"
            | "convertsToDecimal" | "toString" | "convertsToString" | "toDate"
            | "convertsToDate" | "toDateTime" | "convertsToDateTime" | "toTime"
            | "convertsToTime" | "upper" | "lower" | "length" | "toChars" | "trim" | "abs"
            | "ceiling" | "exp" | "floor" | "ln" | "sqrt" | "truncate" | "precision" => 0..=0,
            "toQuantity" | "convertsToQuantity" | "round" | "join" => 0..=1,
            "indexOf" | "startsWith" | "endsWith" | "contains" | "matches" | "matchesFull"
            | "split" | "log" | "power" | "encode" | "decode" | "escape" | "unescape"
            | "comparable" => 1..=1,
            "substring" => 1..=2,
            "replace" | "replaceMatches" => 2..=2,
            _ => return Err(semantic(format!("unknown function {name}()"))),
        };
        if !arity.contains(&args.len()) {
            return Err(semantic(format!(
                "{name}() takes {arity:?} arguments, got {}",
                args.len()
            )));
        }
        if name == "join" {
            let sep = match args.first() {
                Some(_) => str_arg(&arg(0)?)?.unwrap_or_default(),
                None => String::new(),
            };
            let parts: Vec<String> = input
                .iter()
                .filter_map(|i| to_string_val(&i.system()?))
                .collect();
            return Ok(vec![str_item(parts.join(&sep))]);
        }
        let v = match input.as_slice() {
            [] => return Ok(Vec::new()),
            [one] => one,
            _ => return Err(eval_err(format!("{name}() needs a single item"))),
        };
        let sys = v.system();
        let conv = |r: Option<Val<'a>>| Ok(r.map(Item::new).into_iter().collect());
        let converts = |r: Option<Val<'a>>| Ok(vec![bool_item(r.is_some())]);
        match name {
            "precision" => conv(match sys {
                Some(Val::Dec(d)) => Some(Val::Int(d.scale() as i64)),
                Some(Val::Temporal(t)) => {
                    let digits: [i64; 7] = if t.kind == TemporalKind::Time {
                        [0, 0, 0, 2, 4, 6, 9]
                    } else {
                        [4, 6, 8, 10, 12, 14, 17]
                    };
                    let p =
                        t.precision() as usize + if t.kind == TemporalKind::Time { 3 } else { 0 };
                    Some(Val::Int(digits[p.clamp(1, 7) - 1]))
                }
                _ => None,
            }),
            "comparable" => match (sys, single_val(&arg(0)?, name)?) {
                (Some(Val::Quantity(a)), Some(Val::Quantity(b))) => {
                    Ok(vec![bool_item(a.compare(&b).is_some())])
                }
                (_, None) | (None, _) => Ok(Vec::new()),
                _ => Err(eval_err("comparable() needs quantities")),
            },
            "toBoolean" => conv(sys.and_then(to_boolean)),
            "convertsToBoolean" => converts(sys.and_then(to_boolean)),
            "toInteger" => conv(sys.and_then(to_integer)),
            "convertsToInteger" => converts(sys.and_then(to_integer)),
            "toDecimal" => conv(sys.and_then(to_decimal)),
            "convertsToDecimal" => converts(sys.and_then(to_decimal)),
            "toString" => conv(
                sys.as_ref()
                    .and_then(to_string_val)
                    .map(|s| Val::Str(Cow::Owned(s))),
            ),
            "convertsToString" => converts(
                sys.as_ref()
                    .and_then(to_string_val)
                    .map(|s| Val::Str(Cow::Owned(s))),
            ),
            "toDate" | "convertsToDate" | "toDateTime" | "convertsToDateTime" | "toTime"
            | "convertsToTime" => {
                let kind = if name.ends_with("DateTime") {
                    TemporalKind::DateTime
                } else if name.ends_with("Date") {
                    TemporalKind::Date
                } else {
                    TemporalKind::Time
                };
                let r = sys.and_then(|s| to_temporal(s, kind)).map(Val::Temporal);
                if name.starts_with("to") {
                    conv(r)
                } else {
                    converts(r)
                }
            }
            "toQuantity" | "convertsToQuantity" => {
                let mut q = sys.and_then(to_quantity);
                if let (Some(Val::Quantity(qv)), Some(_)) = (&q, args.first()) {
                    let unit = str_arg(&arg(0)?)?.unwrap_or_default();
                    if qv.unit != unit {
                        q = None;
                    }
                }
                if name == "toQuantity" {
                    conv(q)
                } else {
                    converts(q)
                }
            }
            "abs" | "ceiling" | "floor" | "truncate" | "round" | "sqrt" | "exp" | "ln" | "log"
            | "power" => {
                let n = match sys {
                    Some(v @ (Val::Int(_) | Val::Dec(_) | Val::Quantity(_))) => v,
                    _ => return Err(eval_err(format!("{name}() needs a number"))),
                };
                let extra = if args.is_empty() {
                    None
                } else {
                    single_val(&arg(0)?, name)?
                };
                conv(math(name, n, extra)?)
            }
            _ => {
                let s = match sys {
                    Some(Val::Str(s)) => s,
                    _ => return Err(semantic(format!("{name}() needs a string"))),
                };
                let sarg = |i: usize| -> R<Option<String>> { str_arg(&arg(i)?) };
                let out: Option<Val<'a>> = match name {
                    "upper" => Some(Val::Str(Cow::Owned(s.to_uppercase()))),
                    "lower" => Some(Val::Str(Cow::Owned(s.to_lowercase()))),
                    "trim" => Some(Val::Str(Cow::Owned(s.trim().to_owned()))),
                    "length" => Some(Val::Int(s.chars().count() as i64)),
                    "toChars" => {
                        return Ok(s.chars().map(|c| str_item(c.to_string())).collect());
                    }
                    "indexOf" => sarg(0)?.map(|sub| {
                        Val::Int(s.find(&sub).map_or(-1, |b| s[..b].chars().count() as i64))
                    }),
                    "startsWith" => sarg(0)?.map(|p| Val::Bool(s.starts_with(&p))),
                    "endsWith" => sarg(0)?.map(|p| Val::Bool(s.ends_with(&p))),
                    "contains" => sarg(0)?.map(|p| Val::Bool(s.contains(&p))),
                    "substring" => {
                        let int = |c: Coll<'a>| -> R<Option<i64>> {
                            match single_val(&c, "substring")? {
                                Some(Val::Int(i)) => Ok(Some(i)),
                                None => Ok(None),
                                _ => Err(eval_err("substring() needs integers")),
                            }
                        };
                        let Some(start) = int(arg(0)?)? else {
                            return Ok(Vec::new());
                        };
                        let len = if args.len() == 2 { int(arg(1)?)? } else { None };
                        let chars: Vec<char> = s.chars().collect();
                        if start < 0 || start as usize >= chars.len() {
                            None
                        } else {
                            let start = start as usize;
                            let end = match len {
                                Some(l) => (start + l.max(0) as usize).min(chars.len()),
                                None => chars.len(),
                            };
                            Some(Val::Str(Cow::Owned(chars[start..end].iter().collect())))
                        }
                    }
                    "replace" => match (sarg(0)?, sarg(1)?) {
                        (Some(p), Some(r)) => Some(Val::Str(Cow::Owned(if p.is_empty() {
                            let mut out = r.clone();
                            for c in s.chars() {
                                out.push(c);
                                out.push_str(&r);
                            }
                            out
                        } else {
                            s.replace(&p, &r)
                        }))),
                        _ => None,
                    },
                    "matches" => match sarg(0)? {
                        Some(p) => Some(Val::Bool(regex(&format!("(?s){p}"))?.is_match(&s))),
                        None => None,
                    },
                    "matchesFull" => match sarg(0)? {
                        Some(p) => Some(Val::Bool(regex(&format!("(?s)^(?:{p})$"))?.is_match(&s))),
                        None => None,
                    },
                    "replaceMatches" => match (sarg(0)?, sarg(1)?) {
                        (Some(p), _) if p.is_empty() => Some(Val::Str(s)),
                        (Some(p), Some(r)) => Some(Val::Str(Cow::Owned(
                            regex(&p)?.replace_all(&s, r.as_str()).into_owned(),
                        ))),
                        _ => None,
                    },
                    "split" => {
                        let Some(sep) = sarg(0)? else {
                            return Ok(Vec::new());
                        };
                        return Ok(s
                            .split(sep.as_str())
                            .map(|p| str_item(p.to_owned()))
                            .collect());
                    }
                    "encode" | "decode" | "escape" | "unescape" => {
                        let Some(format) = sarg(0)? else {
                            return Ok(Vec::new());
                        };
                        codec(name, &format, &s)?.map(|t| Val::Str(Cow::Owned(t)))
                    }
                    _ => return Err(semantic(format!("unknown function {name}()"))),
                };
                conv(out)
            }
        }
    }

    /// `resolve()`: a contained resource for `#id`, a Bundle entry by full URL, else a
    /// typed stub so that `resolve() is Patient` works on `Patient/1`.
    fn resolve(&self, it: &Item<'a>) -> Option<Item<'a>> {
        let Val::Node(n) = &it.val else { return None };
        let reference: &'a str = match n.value? {
            Json::Object(o) => o.get("reference")?.as_str()?,
            Json::String(s) => s.as_str(),
            _ => return None,
        };
        let mk = |value: &'a Json| {
            let ty = value.get("resourceType").and_then(Json::as_str);
            Item::node(Node {
                root: self.root,
                value: Some(value),
                ext: None,
                ty,
            })
        };
        if let Some(id) = reference.strip_prefix('#') {
            let contained = self.root.get("contained")?.as_array()?;
            return contained
                .iter()
                .find(|c| c.get("id").and_then(Json::as_str) == Some(id))
                .map(mk);
        }
        if let Some(entries) = self.root.get("entry").and_then(Json::as_array)
            && let Some(e) = entries
                .iter()
                .find(|e| e.get("fullUrl").and_then(Json::as_str) == Some(reference))
            && let Some(r) = e.get("resource")
        {
            return Some(mk(r));
        }
        let trimmed = match reference.find("/_history/") {
            Some(i) => &reference[..i],
            None => reference,
        };
        let mut segs = trimmed.rsplit('/');
        let _id = segs.next()?;
        let ty = segs.next()?;
        is_resource_type(ty).then(|| {
            Item::node(Node {
                root: self.root,
                value: Some(empty_object()),
                ext: None,
                ty: Some(ty),
            })
        })
    }
}

/// A member name is a semantic error only when no item of the input could have it (so
/// `descendants().linkId` is fine, `Patient.name.given1` is not).
fn check_known(inputs: usize, unknown: Option<(usize, FhirPathError)>) -> R<()> {
    match unknown {
        Some((n, e)) if n == inputs => Err(e),
        _ => Ok(()),
    }
}

/// `encode`/`decode` (base64, urlbase64, hex) and `escape`/`unescape` (html, json).
fn codec(name: &str, format: &str, s: &str) -> R<Option<String>> {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let url = format == "urlbase64";
    let alphabet = |i: u32| {
        let c = B64[i as usize] as char;
        match (url, c) {
            (true, '+') => '-',
            (true, '/') => '_',
            _ => c,
        }
    };
    Ok(match (name, format) {
        ("encode", "base64" | "urlbase64") => {
            let mut out = String::new();
            for chunk in s.as_bytes().chunks(3) {
                let n = chunk
                    .iter()
                    .enumerate()
                    .fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
                for i in 0..4 {
                    if i <= chunk.len() {
                        out.push(alphabet((n >> (18 - 6 * i)) & 63));
                    } else {
                        out.push('=');
                    }
                }
            }
            Some(out)
        }
        ("decode", "base64" | "urlbase64") => {
            let mut bytes = Vec::new();
            let (mut acc, mut bits) = (0u32, 0);
            for c in s.chars().filter(|c| *c != '=') {
                let v = match c {
                    'A'..='Z' => c as u32 - 'A' as u32,
                    'a'..='z' => c as u32 - 'a' as u32 + 26,
                    '0'..='9' => c as u32 - '0' as u32 + 52,
                    '+' | '-' => 62,
                    '/' | '_' => 63,
                    _ => return Ok(None),
                };
                acc = (acc << 6) | v;
                bits += 6;
                if bits >= 8 {
                    bits -= 8;
                    bytes.push((acc >> bits) as u8);
                    acc &= (1 << bits) - 1;
                }
            }
            String::from_utf8(bytes).ok()
        }
        ("encode", "hex") => Some(s.bytes().map(|b| format!("{b:02x}")).collect()),
        ("decode", "hex") => {
            let bytes: Option<Vec<u8>> = (0..s.len())
                .step_by(2)
                .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
                .collect();
            bytes.and_then(|b| String::from_utf8(b).ok())
        }
        ("escape", "html") => Some(
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;"),
        ),
        ("unescape", "html") => Some(
            s.replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&#39;", "'")
                .replace("&amp;", "&"),
        ),
        ("escape", "json") => Some(s.replace('\\', "\\\\").replace('"', "\\\"")),
        ("unescape", "json") => Some(s.replace("\\\"", "\"").replace("\\\\", "\\")),
        _ => {
            return Err(eval_err(format!(
                "{name}() does not know the format '{format}'"
            )));
        }
    })
}

fn regex(p: &str) -> R<regex::Regex> {
    regex::Regex::new(p).map_err(|e| eval_err(format!("invalid regular expression: {e}")))
}

fn ext_of<'a>(obj: &'a Map<String, Json>, name: &str) -> Option<&'a Json> {
    obj.iter()
        .find(|(k, _)| k.len() == name.len() + 1 && k.starts_with('_') && &k[1..] == name)
        .map(|(_, v)| v)
}

fn literal<'a>(l: &Literal) -> Coll<'a> {
    let v = match l {
        Literal::Empty => return Vec::new(),
        Literal::Bool(b) => Val::Bool(*b),
        Literal::Str(s) => Val::Str(Cow::Owned(s.clone())),
        Literal::Int(i) => Val::Int(*i),
        Literal::Dec(d) => Val::Dec(*d),
        Literal::Date(t) | Literal::DateTime(t) | Literal::Time(t) => Val::Temporal(*t),
        Literal::Quantity(q) => {
            let unit = calendar_unit(&q.unit).map_or_else(|| q.unit.clone(), str::to_owned);
            Val::Quantity(Quantity {
                value: q.value,
                unit,
            })
        }
    };
    vec![Item::new(v)]
}

fn bool_item<'a>(b: bool) -> Item<'a> {
    Item::new(Val::Bool(b))
}

fn str_item<'a>(s: String) -> Item<'a> {
    Item::new(Val::Str(Cow::Owned(s)))
}

fn opt_bool<'a>(b: Option<bool>) -> Coll<'a> {
    b.map(bool_item).into_iter().collect()
}

/// The system value of a singleton (`None` when empty; an error when more than one).
fn single_val<'a>(c: &[Item<'a>], what: &str) -> R<Option<Val<'a>>> {
    match c {
        [] => Ok(None),
        [one] => Ok(one.system()),
        _ => Err(eval_err(format!(
            "{what} needs a single item, got {}",
            c.len()
        ))),
    }
}

fn str_arg(c: &[Item<'_>]) -> R<Option<String>> {
    match single_val(c, "argument")? {
        None => Ok(None),
        Some(Val::Str(s)) => Ok(Some(s.into_owned())),
        Some(_) => Err(eval_err("a string argument was expected")),
    }
}

/// Singleton evaluation of a collection as a boolean.
fn bool_of(c: &[Item<'_>]) -> R<Option<bool>> {
    match c {
        [] => Ok(None),
        [one] => Ok(Some(match one.system() {
            Some(Val::Bool(b)) => b,
            _ => true,
        })),
        _ => Err(eval_err(format!(
            "a single boolean was expected, got {} items",
            c.len()
        ))),
    }
}

/// The type chain test: `t` is `name` or derives from it.
fn derives_from(t: &str, name: &str) -> bool {
    let mut cur = Some(t);
    while let Some(c) = cur {
        if c == name {
            return true;
        }
        if c.contains('.') {
            return matches!(name, "BackboneElement" | "Element" | "Base");
        }
        cur = type_def(c).and_then(|d| d.base.as_deref());
    }
    name == "Base"
}

fn check_type_name(spec: &str) -> R<()> {
    let name = spec
        .strip_prefix("FHIR.")
        .or_else(|| spec.strip_prefix("System."))
        .unwrap_or(spec);
    if SYSTEM_TYPES.contains(&name)
        || type_def(name).is_some()
        || matches!(name, "Base" | "Resource")
    {
        Ok(())
    } else {
        Err(eval_err(format!("unknown type {spec}")))
    }
}

fn system_type_name(v: &Val<'_>) -> &'static str {
    match v {
        Val::Bool(_) => "Boolean",
        Val::Int(_) => "Integer",
        Val::Dec(_) => "Decimal",
        Val::Str(_) => "String",
        Val::Temporal(t) => match t.kind {
            TemporalKind::Date => "Date",
            TemporalKind::DateTime => "DateTime",
            TemporalKind::Time => "Time",
        },
        Val::Quantity(_) => "Quantity",
        Val::Node(_) | Val::Type { .. } => "Any",
    }
}

/// Whether an item is of type `spec` (`Quantity`, `FHIR.string`, `System.Integer`).
/// `exact` (for `as`/`ofType`) does not let a primitive match its base (`code` is not
/// `string` there), as the FHIRPath suite expects.
fn type_matches(item: &Item<'_>, spec: &str, exact: bool) -> bool {
    let (ns, name) = match spec.split_once('.') {
        Some(("System", n)) => (Some("System"), n),
        Some(("FHIR", n)) => (Some("FHIR"), n),
        _ => (None, spec),
    };
    match &item.val {
        Val::Node(n) => {
            if ns == Some("System") {
                return false;
            }
            let ty = match n.ty {
                Some(t) => t.to_owned(),
                None => item.type_name(),
            };
            let prim = type_def(&ty).is_some_and(|d| d.kind == TypeKind::Primitive);
            if exact && prim {
                ty == name
            } else {
                derives_from(&ty, name)
            }
        }
        v => ns != Some("FHIR") && (system_type_name(v) == name || name == "Any"),
    }
}

fn type_info<'a>(item: &Item<'a>) -> Val<'a> {
    match &item.val {
        Val::Node(_) => Val::Type {
            namespace: "FHIR",
            name: item.type_name(),
        },
        v => Val::Type {
            namespace: "System",
            name: system_type_name(v).to_owned(),
        },
    }
}

fn type_arg(a: &Ast) -> R<String> {
    match a {
        Ast::Ident(n) => Ok(n.clone()),
        Ast::Member(t, n) => Ok(format!("{}.{n}", type_arg(t)?)),
        _ => Err(semantic("a type name was expected")),
    }
}

/// Identity for nodes (same JSON value), equality for computed values.
fn same_item(a: &Item<'_>, b: &Item<'_>) -> bool {
    match (&a.val, &b.val) {
        (Val::Node(x), Val::Node(y)) => {
            x.value.map(|v| v as *const Json) == y.value.map(|v| v as *const Json)
                && x.ext.map(|v| v as *const Json) == y.ext.map(|v| v as *const Json)
        }
        _ => eq_items(a, b) == Some(true),
    }
}

fn distinct(input: Coll<'_>) -> Coll<'_> {
    let mut out: Coll<'_> = Vec::with_capacity(input.len());
    for it in input {
        if !out.iter().any(|o| eq_items(o, &it) == Some(true)) {
            out.push(it);
        }
    }
    out
}

fn complex_value<'a>(i: &Item<'a>) -> Option<&'a Json> {
    match &i.val {
        Val::Node(n) => n.value.filter(|v| v.is_object() || v.is_array()),
        _ => None,
    }
}

/// `=` on two items: `None` when the result is unknown (different date precisions).
pub(crate) fn eq_items(a: &Item<'_>, b: &Item<'_>) -> Option<bool> {
    if let (Some(x), Some(y)) = (complex_value(a), complex_value(b)) {
        return Some(x == y);
    }
    match (a.system(), b.system()) {
        (Some(x), Some(y)) => eq_vals(&x, &y),
        _ => Some(false),
    }
}

fn num_pair(x: &Val<'_>, y: &Val<'_>) -> Option<(Decimal, Decimal)> {
    let d = |v: &Val<'_>| match v {
        Val::Int(i) => Some(Decimal::from_int(*i)),
        Val::Dec(d) => Some(*d),
        _ => None,
    };
    Some((d(x)?, d(y)?))
}

fn eq_vals(x: &Val<'_>, y: &Val<'_>) -> Option<bool> {
    if let Some((a, b)) = num_pair(x, y) {
        return Some(a.cmp_num(&b) == Ordering::Equal);
    }
    match (x, y) {
        (Val::Bool(a), Val::Bool(b)) => Some(a == b),
        (Val::Str(a), Val::Str(b)) => Some(a == b),
        (Val::Temporal(a), Val::Temporal(b)) => {
            if (a.kind == TemporalKind::Time) != (b.kind == TemporalKind::Time) {
                return Some(false);
            }
            a.compare(b).map(|o| o == Ordering::Equal)
        }
        (Val::Quantity(a), Val::Quantity(b)) => a.compare(b).map(|o| o == Ordering::Equal),
        (
            Val::Type {
                namespace: n1,
                name: a,
            },
            Val::Type {
                namespace: n2,
                name: b,
            },
        ) => Some(n1 == n2 && a == b),
        _ => Some(false),
    }
}

fn equiv_items(a: &Item<'_>, b: &Item<'_>) -> bool {
    if let (Some(x), Some(y)) = (complex_value(a), complex_value(b)) {
        return x == y;
    }
    let (Some(x), Some(y)) = (a.system(), b.system()) else {
        return false;
    };
    if let Some((p, q)) = num_pair(&x, &y) {
        let s = p.scale().min(q.scale());
        return p.rescale_round(s).cmp_num(&q.rescale_round(s)) == Ordering::Equal;
    }
    match (&x, &y) {
        (Val::Str(p), Val::Str(q)) => {
            let norm = |s: &str| {
                s.split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .to_lowercase()
            };
            norm(p) == norm(q)
        }
        (Val::Temporal(p), Val::Temporal(q)) => p.compare(q) == Some(Ordering::Equal),
        _ => eq_vals(&x, &y) == Some(true),
    }
}

fn compare_vals(x: &Val<'_>, y: &Val<'_>) -> R<Option<Ordering>> {
    if let Some((a, b)) = num_pair(x, y) {
        return Ok(Some(a.cmp_num(&b)));
    }
    match (x, y) {
        (Val::Str(a), Val::Str(b)) => Ok(Some(a.cmp(b))),
        (Val::Temporal(a), Val::Temporal(b))
            if (a.kind == TemporalKind::Time) == (b.kind == TemporalKind::Time) =>
        {
            Ok(a.compare(b))
        }
        (Val::Quantity(a), Val::Quantity(b)) => Ok(a.compare(b)),
        _ => Err(eval_err(format!(
            "cannot compare {} with {}",
            system_type_name(x),
            system_type_name(y)
        ))),
    }
}

/// The calendar keyword for a duration unit usable in date arithmetic.
fn duration_unit(unit: &str) -> Option<&'static str> {
    calendar_unit(unit).or(match unit {
        "wk" => Some("week"),
        "d" => Some("day"),
        "h" => Some("hour"),
        "min" => Some("minute"),
        "s" => Some("second"),
        "ms" => Some("millisecond"),
        _ => None,
    })
}

fn arith<'a>(op: BinOp, x: Val<'a>, y: Val<'a>) -> R<Option<Val<'a>>> {
    use BinOp::*;
    if let (Val::Int(a), Val::Int(b)) = (&x, &y) {
        let (a, b) = (*a, *b);
        return Ok(match op {
            Add => a.checked_add(b).map(Val::Int),
            Sub => a.checked_sub(b).map(Val::Int),
            Mul => a.checked_mul(b).map(Val::Int),
            Div => Decimal::from_int(a)
                .div(&Decimal::from_int(b))
                .map(Val::Dec),
            IntDiv => a.checked_div(b).map(Val::Int),
            _ => a.checked_rem(b).map(Val::Int),
        });
    }
    if let Some((a, b)) = num_pair(&x, &y) {
        return Ok(match op {
            Add => a.add(&b),
            Sub => a.sub(&b),
            Mul => a.mul(&b),
            Div => a.div(&b),
            IntDiv => return Ok(a.div_trunc(&b).and_then(|d| d.to_i64_exact()).map(Val::Int)),
            _ => a.rem(&b),
        }
        .map(Val::Dec));
    }
    match (x, y) {
        (Val::Str(a), Val::Str(b)) if op == Add => {
            Ok(Some(Val::Str(Cow::Owned(format!("{a}{b}")))))
        }
        (Val::Temporal(t), Val::Quantity(q)) if matches!(op, Add | Sub) => {
            let unit = duration_unit(&q.unit)
                .ok_or_else(|| eval_err(format!("cannot add '{}' to a date/time", q.unit)))?;
            let amount = if op == Sub { q.value.neg() } else { q.value };
            if t.kind == TemporalKind::Date
                && matches!(unit, "hour" | "minute" | "second" | "millisecond")
            {
                return Err(eval_err("cannot add a time quantity to a date"));
            }
            Ok(t.add(&amount, unit).map(Val::Temporal))
        }
        (Val::Quantity(a), Val::Quantity(b)) if matches!(op, Add | Sub) => {
            if a.unit != b.unit {
                return Ok(None);
            }
            let v = if op == Add {
                a.value.add(&b.value)
            } else {
                a.value.sub(&b.value)
            };
            Ok(v.map(|value| {
                Val::Quantity(Quantity {
                    value,
                    unit: a.unit,
                })
            }))
        }
        (Val::Quantity(a), n @ (Val::Int(_) | Val::Dec(_))) if matches!(op, Mul | Div) => {
            let (_, f) =
                num_pair(&Val::Int(0), &n).unwrap_or((Decimal::from_int(0), Decimal::from_int(1)));
            let v = if op == Mul {
                a.value.mul(&f)
            } else {
                a.value.div(&f)
            };
            Ok(v.map(|value| {
                Val::Quantity(Quantity {
                    value,
                    unit: a.unit,
                })
            }))
        }
        (x, y) => Err(eval_err(format!(
            "cannot apply {op:?} to {} and {}",
            system_type_name(&x),
            system_type_name(&y)
        ))),
    }
}

fn math<'a>(name: &str, n: Val<'a>, extra: Option<Val<'a>>) -> R<Option<Val<'a>>> {
    let d = match &n {
        Val::Int(i) => Decimal::from_int(*i),
        Val::Dec(d) => *d,
        Val::Quantity(q) => q.value,
        _ => return Ok(None),
    };
    let is_int = matches!(n, Val::Int(_));
    let float = |f: f64| Decimal::from_f64(f).map(Val::Dec);
    Ok(match name {
        "abs" => match n {
            Val::Int(i) => i.checked_abs().map(Val::Int),
            Val::Quantity(q) => Some(Val::Quantity(Quantity {
                value: if q.value.is_negative() {
                    q.value.neg()
                } else {
                    q.value
                },
                unit: q.unit,
            })),
            _ => Some(Val::Dec(if d.is_negative() { d.neg() } else { d })),
        },
        "ceiling" => d.ceiling().to_i64_exact().map(Val::Int),
        "floor" => d.floor().to_i64_exact().map(Val::Int),
        "truncate" => d.truncate_to(0).to_i64_exact().map(Val::Int),
        "round" => {
            let p = match extra {
                Some(Val::Int(p)) if p >= 0 => p as u32,
                None => 0,
                _ => return Err(eval_err("round() needs a non-negative integer precision")),
            };
            Some(Val::Dec(d.rescale_round(p)))
        }
        "sqrt" => {
            if d.is_negative() {
                None
            } else {
                float(d.to_f64().sqrt())
            }
        }
        "exp" => float(d.to_f64().exp()),
        "ln" => {
            if d.is_negative() || d.is_zero() {
                None
            } else {
                float(d.to_f64().ln())
            }
        }
        "log" => {
            let base = match extra.as_ref().and_then(|e| num_pair(e, e)) {
                Some((b, _)) => b.to_f64(),
                None => return Ok(None),
            };
            float(d.to_f64().ln() / base.ln())
        }
        "power" => {
            let e = match extra {
                Some(e @ (Val::Int(_) | Val::Dec(_))) => e,
                _ => return Ok(None),
            };
            match (is_int, &e) {
                (true, Val::Int(p)) if *p >= 0 => {
                    let base = match n {
                        Val::Int(i) => i,
                        _ => 0,
                    };
                    u32::try_from(*p)
                        .ok()
                        .and_then(|p| base.checked_pow(p))
                        .map(Val::Int)
                }
                _ => {
                    let ef = num_pair(&e, &e)
                        .map(|(x, _)| x.to_f64())
                        .unwrap_or(f64::NAN);
                    let r = d.to_f64().powf(ef);
                    if r.is_nan() { None } else { float(r) }
                }
            }
        }
        _ => None,
    })
}

/// FHIRPath `toString()` of a system value.
pub(crate) fn to_string_val(v: &Val<'_>) -> Option<String> {
    Some(match v {
        Val::Bool(b) => b.to_string(),
        Val::Int(i) => i.to_string(),
        Val::Dec(d) => d.to_string(),
        Val::Str(s) => s.to_string(),
        Val::Temporal(t) => t.to_string(),
        Val::Quantity(q) => q.literal(),
        Val::Node(_) | Val::Type { .. } => return None,
    })
}

fn to_boolean<'a>(v: Val<'a>) -> Option<Val<'a>> {
    Some(Val::Bool(match v {
        Val::Bool(b) => b,
        Val::Int(1) => true,
        Val::Int(0) => false,
        Val::Dec(d) if d == Decimal::from_int(1) => true,
        Val::Dec(d) if d.is_zero() => false,
        Val::Str(s) => match s.to_lowercase().as_str() {
            "true" | "t" | "yes" | "y" | "1" | "1.0" => true,
            "false" | "f" | "no" | "n" | "0" | "0.0" => false,
            _ => return None,
        },
        _ => return None,
    }))
}

fn to_integer<'a>(v: Val<'a>) -> Option<Val<'a>> {
    match v {
        Val::Int(i) => Some(Val::Int(i)),
        Val::Bool(b) => Some(Val::Int(b as i64)),
        Val::Str(s) => {
            let digits = s.strip_prefix(['+', '-']).unwrap_or(&s);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            s.parse().ok().map(Val::Int)
        }
        _ => None,
    }
}

fn to_decimal<'a>(v: Val<'a>) -> Option<Val<'a>> {
    match v {
        Val::Int(i) => Some(Val::Dec(Decimal::from_int(i))),
        Val::Dec(d) => Some(Val::Dec(d)),
        Val::Bool(b) => Some(Val::Dec(Decimal::parse(if b { "1.0" } else { "0.0" })?)),
        Val::Str(s) if !s.contains(['e', 'E']) => Decimal::parse(&s).map(Val::Dec),
        _ => None,
    }
}

fn to_quantity<'a>(v: Val<'a>) -> Option<Val<'a>> {
    let q = |value: Decimal, unit: &str| {
        Some(Val::Quantity(Quantity {
            value,
            unit: unit.to_owned(),
        }))
    };
    match v {
        Val::Int(i) => q(Decimal::from_int(i), "1"),
        Val::Dec(d) => q(d, "1"),
        Val::Bool(b) => q(Decimal::from_int(b as i64), "1"),
        Val::Quantity(x) => Some(Val::Quantity(x)),
        Val::Str(s) => {
            let s = s.trim();
            let (num, unit) = match s.find(' ') {
                Some(i) => (&s[..i], s[i..].trim()),
                None => (s, ""),
            };
            let value = Decimal::parse(num).filter(|_| !num.contains(['e', 'E']))?;
            if unit.is_empty() {
                return q(value, "1");
            }
            if let Some(u) = unit.strip_prefix('\'').and_then(|u| u.strip_suffix('\'')) {
                return q(value, u);
            }
            calendar_unit(unit).and_then(|u| q(value, u))
        }
        _ => None,
    }
}

fn to_temporal(v: Val<'_>, kind: TemporalKind) -> Option<Temporal> {
    match v {
        Val::Str(s) => match kind {
            TemporalKind::Date => Temporal::parse_date(&s)
                .or_else(|| Temporal::parse_datetime(&s).map(|t| to_kind(t, TemporalKind::Date))),
            TemporalKind::DateTime => Temporal::parse_datetime(&s),
            TemporalKind::Time => Temporal::parse_time(s.strip_prefix('T').unwrap_or(&s)),
        },
        Val::Temporal(t) => match (t.kind, kind) {
            (a, b) if a == b => Some(t),
            (TemporalKind::Date, TemporalKind::DateTime)
            | (TemporalKind::DateTime, TemporalKind::Date) => Some(to_kind(t, kind)),
            _ => None,
        },
        _ => None,
    }
}

fn to_kind(mut t: Temporal, kind: TemporalKind) -> Temporal {
    t.kind = kind;
    if kind == TemporalKind::Date {
        t.hour = None;
        t.minute = None;
        t.second = None;
        t.millis = None;
        t.tz = None;
    }
    t
}

/// `today()`, `now()` or `timeOfDay()` from the system clock, in UTC.
fn now(which: &str) -> Temporal {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let (y, m, d) = civil_from_days(ms.div_euclid(86_400_000));
    let rem = ms.rem_euclid(86_400_000);
    let mut t = Temporal {
        kind: TemporalKind::DateTime,
        year: y,
        month: Some(m),
        day: Some(d),
        hour: Some((rem / 3_600_000) as u8),
        minute: Some((rem / 60_000 % 60) as u8),
        second: Some((rem / 1000 % 60) as u8),
        millis: Some((rem % 1000) as u16),
        tz: Some(0),
    };
    match which {
        "today" => to_kind(t, TemporalKind::Date),
        "timeOfDay" => {
            t.kind = TemporalKind::Time;
            t.year = 0;
            t.month = None;
            t.day = None;
            t.tz = None;
            t
        }
        _ => t,
    }
}
