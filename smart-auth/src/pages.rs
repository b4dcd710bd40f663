//! The HTML pages of the authorize flow: login, consent, patient picker, error.
//!
//! Why server-rendered strings in a pure crate: the pages are a handful of forms, and what
//! matters about them is testable without a browser: that every value placed in them
//! (client names chosen by whoever registered the app, user names, scopes, hidden request
//! parameters) is HTML-escaped, that the field names match what the endpoints read, and
//! that they run no script. They carry no JavaScript, load nothing from elsewhere, and
//! work on a phone (`<meta name="viewport">`). The server sends them with a
//! `Content-Security-Policy` that forbids scripts and framing.
//!
//! The forms post back to `action` with the authorization request carried in `hidden`
//! fields, which the server re-validates on every step (they come from the user agent).

use std::fmt::Write as _;

use crate::scopes::{Context, Permissions, ResourceScope, ResourceType, Scope};

/// The login form: `username`, `password` (type `password`), the `hidden` fields and a
/// submit button, posted to `action`. `error` (e.g. "Wrong username or password") is
/// shown above the form.
pub fn login_page(
    action: &str,
    hidden: &[(String, String)],
    client_name: &str,
    error: Option<&str>,
) -> String {
    let mut body = format!(
        "<h1>Sign in</h1>\n<p><strong>{}</strong> wants to access your health records.</p>\n",
        escape(client_name)
    );
    if let Some(error) = error {
        let _ = writeln!(
            body,
            "<p class=\"error\" role=\"alert\">{}</p>",
            escape(error)
        );
    }
    let _ = write!(
        body,
        "<form method=\"post\" action=\"{}\">\n{}\
         <label for=\"username\">Username</label>\n\
         <input id=\"username\" type=\"text\" name=\"username\" autocomplete=\"username\" required autofocus>\n\
         <label for=\"password\">Password</label>\n\
         <input id=\"password\" type=\"password\" name=\"password\" autocomplete=\"current-password\" required>\n\
         <button type=\"submit\">Sign in</button>\n</form>\n",
        escape(action),
        hidden_inputs(hidden)
    );
    document("Sign in", &body)
}

/// The consent form: what `client_name` asks of `user_display`, one checked checkbox
/// `name="scope"` per requested scope (with [`describe_scope`]'s text; a scope that does
/// not parse is shown as written), and two submit buttons, `name="approve"` and
/// `name="deny"`, posted to `action`. Unticking a box grants less.
pub fn consent_page(
    action: &str,
    hidden: &[(String, String)],
    client_name: &str,
    user_display: &str,
    scopes: &[String],
) -> String {
    let mut body = format!(
        "<h1>Allow access?</h1>\n<p>Signed in as <strong>{}</strong>.</p>\n\
         <p><strong>{}</strong> asks for:</p>\n",
        escape(user_display),
        escape(client_name)
    );
    let _ = write!(
        body,
        "<form method=\"post\" action=\"{}\">\n{}<ul class=\"scopes\">\n",
        escape(action),
        hidden_inputs(hidden)
    );
    for (i, scope) in scopes.iter().enumerate() {
        let description = match scope.parse::<Scope>() {
            Ok(parsed) => describe_scope(&parsed),
            Err(_) => scope.clone(),
        };
        let _ = writeln!(
            body,
            "<li><input type=\"checkbox\" id=\"scope{i}\" name=\"scope\" value=\"{}\" checked> \
             <label for=\"scope{i}\">{} <code>{}</code></label></li>",
            escape(scope),
            escape(&description),
            escape(scope)
        );
    }
    body.push_str(
        "</ul>\n<div class=\"buttons\">\n\
         <button type=\"submit\" name=\"approve\" value=\"1\">Allow</button>\n\
         <button type=\"submit\" name=\"deny\" value=\"1\" class=\"secondary\">Deny</button>\n\
         </div>\n</form>\n",
    );
    document("Allow access?", &body)
}

/// The patient picker of a standalone launch with `launch/patient`: one radio input
/// `name="patient"` per `(Patient id, label)` (the first one checked) and a submit button
/// `name="approve"`, posted to `action`.
pub fn patient_picker_page(
    action: &str,
    hidden: &[(String, String)],
    patients: &[(String, String)],
) -> String {
    let mut body = format!(
        "<h1>Choose a patient</h1>\n<form method=\"post\" action=\"{}\">\n{}",
        escape(action),
        hidden_inputs(hidden)
    );
    if patients.is_empty() {
        body.push_str("<p>No patient is available.</p>\n");
    } else {
        body.push_str("<ul class=\"patients\">\n");
        for (i, (id, label)) in patients.iter().enumerate() {
            let _ = writeln!(
                body,
                "<li><input type=\"radio\" id=\"patient{i}\" name=\"patient\" value=\"{}\"{} required> \
                 <label for=\"patient{i}\">{}</label></li>",
                escape(id),
                if i == 0 { " checked" } else { "" },
                escape(label)
            );
        }
        body.push_str(
            "</ul>\n<button type=\"submit\" name=\"approve\" value=\"1\">Continue</button>\n",
        );
    }
    body.push_str("</form>\n");
    document("Choose a patient", &body)
}

/// An error page (an authorization request that cannot be redirected back to its app).
pub fn error_page(title: &str, message: &str) -> String {
    let body = format!(
        "<h1>{}</h1>\n<p class=\"error\">{}</p>\n",
        escape(title),
        escape(message)
    );
    document(title, &body)
}

/// What a scope lets an app do, in words for a consent page.
///
/// ```
/// use smart_auth::pages::describe_scope;
///
/// let describe = |s: &str| describe_scope(&s.parse().unwrap());
/// assert_eq!(describe("patient/Observation.rs"), "Read and search your Observation records");
/// assert_eq!(describe("openid"), "Your identity (openid)");
/// assert_eq!(describe("offline_access"), "Stay signed in (offline_access)");
/// ```
pub fn describe_scope(scope: &Scope) -> String {
    match scope {
        Scope::Resource(resource) => describe_resource_scope(resource),
        Scope::OpenId => "Your identity (openid)".to_owned(),
        Scope::FhirUser => "Your user record, such as your name (fhirUser)".to_owned(),
        Scope::Profile => "Your user record, such as your name (profile)".to_owned(),
        Scope::Launch => {
            "The patient and visit open in your health record system (launch)".to_owned()
        }
        Scope::LaunchPatient => {
            "Choose which patient the app works with (launch/patient)".to_owned()
        }
        Scope::LaunchEncounter => {
            "Choose which visit the app works with (launch/encounter)".to_owned()
        }
        Scope::OfflineAccess => "Stay signed in (offline_access)".to_owned(),
        Scope::OnlineAccess => {
            "Stay signed in while you are signed in here (online_access)".to_owned()
        }
    }
}

fn describe_resource_scope(scope: &ResourceScope) -> String {
    let verbs = verbs(scope.permissions);
    let records = match (&scope.resource_type, scope.context) {
        (ResourceType::Any, Context::Patient) => "all your records".to_owned(),
        (ResourceType::Any, Context::User) => "all records you have access to".to_owned(),
        (ResourceType::Any, Context::System) => "all records".to_owned(),
        (ResourceType::Named(name), Context::Patient) => format!("your {name} records"),
        (ResourceType::Named(name), Context::User) => {
            format!("{name} records you have access to")
        }
        (ResourceType::Named(name), Context::System) => format!("all {name} records"),
    };
    let mut text = format!("{verbs} {records}");
    if let Some(query) = &scope.query {
        let _ = write!(text, ", only those matching {query}");
    }
    text
}

/// "Read and search", "Create, read, update, delete and search".
fn verbs(permissions: Permissions) -> String {
    let words: Vec<&str> = [
        (permissions.create, "create"),
        (permissions.read, "read"),
        (permissions.update, "update"),
        (permissions.delete, "delete"),
        (permissions.search, "search"),
    ]
    .into_iter()
    .filter_map(|(on, word)| on.then_some(word))
    .collect();
    let mut text = match words.as_slice() {
        [] => "Access".to_owned(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    };
    if let Some(first) = text.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    text
}

/// Escapes `&`, `<`, `>`, `"` and `'` for HTML text and double-quoted attribute values.
///
/// ```
/// assert_eq!(
///     smart_auth::pages::escape("<a href=\"x\">Tom & Jerry's</a>"),
///     "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;"
/// );
/// ```
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn hidden_inputs(hidden: &[(String, String)]) -> String {
    let mut out = String::new();
    for (name, value) in hidden {
        let _ = writeln!(
            out,
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            escape(name),
            escape(value)
        );
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b;line-height:1.4}\
label{display:block;margin-top:.75rem}\
ul label{display:inline;margin:0}\
input[type=text],input[type=password]{width:100%;padding:.5rem;box-sizing:border-box;font-size:1rem}\
ul{list-style:none;padding:0}li{margin:.5rem 0}\
button{margin-top:1rem;margin-right:.5rem;padding:.6rem 1.2rem;font-size:1rem;border:0;border-radius:4px;background:#0b5cad;color:#fff}\
button.secondary{background:#e4e4e4;color:#1b1b1b}\
.error{color:#a4000f}code{font-size:.85em;color:#555}";

fn document(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n{body}</main>\n</body>\n</html>\n",
        escape(title)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVIL: &str = "<script>alert('x')</script>\"&";
    const EVIL_ESCAPED: &str = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;&amp;";

    fn hidden() -> Vec<(String, String)> {
        vec![
            ("client_id".to_owned(), "app".to_owned()),
            ("state".to_owned(), "a\"><script>".to_owned()),
        ]
    }

    fn scopes(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    /// Common to every page: a whole document, a viewport, no script, no external loads.
    fn check_document(html: &str) {
        assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
        assert!(
            html.contains(
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            )
        );
        assert!(html.contains("<meta charset=\"utf-8\">"));
        assert!(!html.to_lowercase().contains("<script"), "{html}");
        assert!(!html.contains("javascript:"));
        assert!(!html.contains("src="));
        assert!(!html.contains("<link"));
        assert!(html.trim_end().ends_with("</html>"));
    }

    #[test]
    fn login_page_fields_and_escaping() {
        let html = login_page(
            "/auth/login?x=1&y=2",
            &hidden(),
            EVIL,
            Some("Wrong <b>password</b>"),
        );
        check_document(&html);
        assert!(html.contains("<form method=\"post\" action=\"/auth/login?x=1&amp;y=2\">"));
        assert!(html.contains("type=\"text\" name=\"username\""));
        assert!(html.contains("type=\"password\" name=\"password\""));
        assert!(html.contains("<button type=\"submit\">"));
        assert!(html.contains("<input type=\"hidden\" name=\"client_id\" value=\"app\">"));
        assert!(html.contains(
            "<input type=\"hidden\" name=\"state\" value=\"a&quot;&gt;&lt;script&gt;\">"
        ));
        assert!(html.contains(EVIL_ESCAPED));
        assert!(html.contains("Wrong &lt;b&gt;password&lt;/b&gt;"));
        assert!(html.contains("role=\"alert\""));
        assert!(!login_page("/l", &[], "App", None).contains("class=\"error\""));
    }

    #[test]
    fn consent_page_fields_and_escaping() {
        let html = consent_page(
            "/auth/consent",
            &hidden(),
            EVIL,
            "Jane <Doe>",
            &scopes(&["openid", "patient/Observation.rs", "offline_access"]),
        );
        check_document(&html);
        assert!(html.contains("<form method=\"post\" action=\"/auth/consent\">"));
        assert!(html.contains(EVIL_ESCAPED));
        assert!(html.contains("Jane &lt;Doe&gt;"));
        for scope in ["openid", "patient/Observation.rs", "offline_access"] {
            assert!(
                html.contains(&format!("name=\"scope\" value=\"{scope}\" checked>")),
                "{scope}"
            );
        }
        assert!(html.contains("Your identity (openid)"));
        assert!(html.contains("Read and search your Observation records"));
        assert!(html.contains("Stay signed in (offline_access)"));
        assert!(html.contains("<button type=\"submit\" name=\"approve\" value=\"1\">"));
        assert!(html.contains("<button type=\"submit\" name=\"deny\" value=\"1\""));
        assert_eq!(html.matches("type=\"checkbox\"").count(), 3);
    }

    #[test]
    fn consent_page_escapes_scopes_and_shows_unparsed_ones_as_written() {
        let granular = "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory&code=1234-5";
        let html = consent_page("/c", &[], "App", "u", &scopes(&[granular, "x<y>\"z"]));
        check_document(&html);
        assert!(html.contains(
            "value=\"patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory&amp;code=1234-5\""
        ));
        assert!(
            html.contains(
                "Read and search your Observation records, only those matching category="
            )
        );
        assert!(html.contains("value=\"x&lt;y&gt;&quot;z\""));
        assert!(!html.contains("x<y>"));
    }

    #[test]
    fn patient_picker_fields_and_escaping() {
        let patients = vec![
            ("p1".to_owned(), "Amy <Shaw>".to_owned()),
            ("p\"2".to_owned(), "Bob".to_owned()),
        ];
        let html = patient_picker_page("/auth/patient", &hidden(), &patients);
        check_document(&html);
        assert!(html.contains("<form method=\"post\" action=\"/auth/patient\">"));
        assert!(
            html.contains("type=\"radio\" id=\"patient0\" name=\"patient\" value=\"p1\" checked")
        );
        assert!(html.contains("name=\"patient\" value=\"p&quot;2\" required"));
        assert!(html.contains("Amy &lt;Shaw&gt;"));
        assert!(html.contains("<button type=\"submit\" name=\"approve\" value=\"1\">"));
        assert_eq!(html.matches("type=\"radio\"").count(), 2);
        assert_eq!(html.matches(" checked").count(), 1);
        assert!(html.contains("name=\"state\" value=\"a&quot;&gt;&lt;script&gt;\""));

        let empty = patient_picker_page("/auth/patient", &[], &[]);
        check_document(&empty);
        assert!(empty.contains("No patient is available."));
        assert!(!empty.contains("name=\"approve\""));
    }

    #[test]
    fn error_page_escapes() {
        let html = error_page("Bad <request>", EVIL);
        check_document(&html);
        assert!(html.contains("<title>Bad &lt;request&gt;</title>"));
        assert!(html.contains("<h1>Bad &lt;request&gt;</h1>"));
        assert!(html.contains(EVIL_ESCAPED));
    }

    #[test]
    fn scope_descriptions() {
        let describe = |s: &str| describe_scope(&s.parse().unwrap());
        for (scope, text) in [
            (
                "patient/Observation.rs",
                "Read and search your Observation records",
            ),
            (
                "patient/Observation.read",
                "Read and search your Observation records",
            ),
            ("patient/*.rs", "Read and search all your records"),
            ("patient/Patient.r", "Read your Patient records"),
            (
                "user/Encounter.cruds",
                "Create, read, update, delete and search Encounter records you have access to",
            ),
            (
                "user/*.write",
                "Create, update and delete all records you have access to",
            ),
            ("system/Patient.s", "Search all Patient records"),
            (
                "system/*.*",
                "Create, read, update, delete and search all records",
            ),
            (
                "patient/Observation.rs?category=vital-signs",
                "Read and search your Observation records, only those matching category=vital-signs",
            ),
            ("openid", "Your identity (openid)"),
            ("fhirUser", "Your user record, such as your name (fhirUser)"),
            ("profile", "Your user record, such as your name (profile)"),
            (
                "launch",
                "The patient and visit open in your health record system (launch)",
            ),
            (
                "launch/patient",
                "Choose which patient the app works with (launch/patient)",
            ),
            (
                "launch/encounter",
                "Choose which visit the app works with (launch/encounter)",
            ),
            ("offline_access", "Stay signed in (offline_access)"),
            (
                "online_access",
                "Stay signed in while you are signed in here (online_access)",
            ),
        ] {
            assert_eq!(describe(scope), text, "{scope}");
        }
        assert_eq!(verbs(Permissions::default()), "Access");
    }

    #[test]
    fn escape_covers_the_five_characters() {
        assert_eq!(escape("&<>\"'"), "&amp;&lt;&gt;&quot;&#39;");
        assert_eq!(escape("plain é"), "plain é");
        assert_eq!(escape(""), "");
    }
}
