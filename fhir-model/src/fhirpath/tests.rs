use serde_json::json;

use super::*;

fn eval(expr: &str, res: &Json) -> Vec<String> {
    parse(expr)
        .unwrap_or_else(|e| panic!("{expr}: {e}"))
        .evaluate(res)
        .unwrap_or_else(|e| panic!("{expr}: {e}"))
        .iter()
        .map(|i| {
            format!(
                "{}:{}",
                i.type_name(),
                i.as_string().unwrap_or_else(|| i.to_json().to_string())
            )
        })
        .collect()
}

fn patient() -> Json {
    json!({
        "resourceType": "Patient", "id": "p1", "active": true, "gender": "male",
        "birthDate": "1974-12-25", "_birthDate": {"extension": [{"url": "http://x", "valueString": "e"}]},
        "name": [{"use": "official", "family": "Chalmers", "given": ["Peter", "James"]},
                 {"use": "usual", "given": ["Jim"]}],
        "contained": [{"resourceType": "Organization", "id": "org", "name": "Acme"}],
        "managingOrganization": {"reference": "#org"},
        "generalPractitioner": [{"reference": "Practitioner/7"}]
    })
}

#[test]
fn paths_types_and_locations() {
    let p = patient();
    assert_eq!(
        eval("name.given", &p),
        ["string:Peter", "string:James", "string:Jim"]
    );
    assert_eq!(eval("Patient.name[1].given", &p), ["string:Jim"]);
    assert_eq!(eval("gender", &p), ["code:male"]);
    assert_eq!(eval("birthDate", &p), ["date:1974-12-25"]);
    let items = parse("name.given[1]").unwrap().evaluate(&p).unwrap();
    assert_eq!(
        items[0].location().unwrap(),
        [
            PathStep::Key("name".into()),
            PathStep::Index(0),
            PathStep::Key("given".into()),
            PathStep::Index(1)
        ]
    );
    let ext = parse("birthDate.extension.value")
        .unwrap()
        .evaluate(&p)
        .unwrap();
    assert_eq!(ext[0].type_name(), "string");
    assert_eq!(
        ext[0].location().unwrap()[0],
        PathStep::Key("birthDate".into())
    );
    assert!(parse("name.given1").unwrap().evaluate(&p).is_err());
}

#[test]
fn choice_types_and_resolve() {
    // Parsed from text: `json!` would turn 1.50 into an f64 and lose the trailing zero.
    let obs: Json = serde_json::from_str(
        r#"{"resourceType": "Observation", "status": "final",
        "subject": {"reference": "Patient/1"},
        "valueQuantity": {"value": 1.50, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"},
        "component": [{"code": {"text": "a"}, "valueString": "x"}]}"#,
    )
    .unwrap();
    assert_eq!(
        eval("Observation.value.as(Quantity).value", &obs),
        ["decimal:1.50"]
    );
    assert_eq!(
        eval("(Observation.value as Quantity).unit", &obs),
        ["string:mg"]
    );
    assert_eq!(
        eval("Observation.value is Quantity", &obs),
        ["boolean:true"]
    );
    assert_eq!(
        eval("Observation.value.ofType(string).exists()", &obs),
        ["boolean:false"]
    );
    assert_eq!(
        eval("Observation.component.value.ofType(string)", &obs),
        ["string:x"]
    );
    assert_eq!(
        eval("Observation.component.first().type().name", &obs),
        ["string:BackboneElement"]
    );
    assert_eq!(
        eval(
            "Observation.subject.where(resolve() is Patient).reference",
            &obs
        ),
        ["string:Patient/1"]
    );
    assert_eq!(eval("Observation.value > 1 'mg'", &obs), ["boolean:true"]);
    assert_eq!(
        eval("Observation.value = 1500 'ug'", &obs),
        ["boolean:true"]
    );
    let p = patient();
    assert_eq!(
        eval("managingOrganization.resolve().name", &p),
        ["string:Acme"]
    );
    assert_eq!(
        eval("generalPractitioner.resolve() is Practitioner", &p),
        ["boolean:true"]
    );
}

#[test]
fn operators_and_functions() {
    let p = patient();
    let cases = [
        ("1 + 2 * 3", "integer:7"),
        ("7 / 2", "decimal:3.5"),
        ("7 div 2", "integer:3"),
        ("7 mod 2", "integer:1"),
        ("'a' & {} & 'b'", "string:ab"),
        ("(1 | 2 | 2).count()", "integer:2"),
        ("true and {}", ""),
        ("false and {}", "boolean:false"),
        ("true implies {}", ""),
        ("name.where(use = 'usual').given.single()", "string:Jim"),
        ("name.select(given.first()).last()", "string:Jim"),
        ("name.given.skip(1).take(1)", "string:James"),
        ("'abc'.substring(1)", "string:bc"),
        ("'abcdef'.matchesFull('b.d')", "boolean:false"),
        ("'abcdef'.matches('b.d')", "boolean:true"),
        ("'abcdef'.matches('a.c.*')", "boolean:true"),
        ("'Hello'.replace('l', 'L').upper().length()", "integer:5"),
        ("'1.5'.toDecimal() + 1", "decimal:2.5"),
        ("iif(active, 'yes', 'no')", "string:yes"),
        ("@2020-01-31 + 1 month", "date:2020-02-29"),
        (
            "@2020-01-01T10:00:00Z > @2020-01-01T09:00:00Z",
            "boolean:true",
        ),
        ("@2020-01 = @2020-01-05", ""),
        ("'ABC' ~ 'abc'", "boolean:true"),
        ("1.0 ~ 1", "boolean:true"),
        ("birthDate < today()", "boolean:true"),
        (
            "descendants().where($this is HumanName).count()",
            "integer:2",
        ),
        ("name.given.aggregate($total + 1, 0)", "integer:3"),
        ("%resource.id", "id:p1"),
        ("(1 | 2).all($this > 0)", "boolean:true"),
        ("contained.ofType(Organization).name", "string:Acme"),
    ];
    for (expr, want) in cases {
        let got = eval(expr, &p).join(",");
        assert_eq!(got, want, "{expr}");
    }
    for bad in ["2 +", "name..given", "'unterminated", "foo(", "1 2"] {
        assert!(
            matches!(parse(bad), Err(FhirPathError::Syntax { .. })),
            "{bad}"
        );
    }
    assert!(matches!(
        parse("name.nope()").unwrap().evaluate(&p),
        Err(FhirPathError::Semantic(_))
    ));
    assert!(matches!(
        parse("(1 | 2) > 1").unwrap().evaluate(&p),
        Err(FhirPathError::Evaluation(_))
    ));
}
