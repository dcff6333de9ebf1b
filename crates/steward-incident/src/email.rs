//! Inbound email, decided from a message already parsed: whose sender a
//! route takes (only by its configured rules: an address, or `@domain`),
//! HTML turned into plain text (scripts, styles and comments dropped,
//! entities decoded: what is kept is text, never markup), the incident a
//! reply names in its subject, and what the message does: open an
//! incident or add a note to the one it names.

/// The most sender rules a route holds.
pub const MAX_RULES: usize = 50;
/// Longest note kept from a message's body, in bytes (cut at a character).
pub const MAX_NOTE: usize = 16 * 1024;
/// Longest incident title taken from a subject, in characters.
pub const MAX_TITLE: usize = 200;

/// Checks a route's sender rules: each a lower-cased address
/// (`it@client.example`) or domain (`@client.example`); at least one.
pub fn check_rules(rules: &[String]) -> Result<Vec<String>, String> {
    if rules.is_empty() || rules.len() > MAX_RULES {
        return Err(format!(
            "a route needs 1 to {MAX_RULES} sender rules: addresses (it@client.example) or domains (@client.example)"
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(rules.len());
    for rule in rules {
        let rule = rule.trim().to_ascii_lowercase();
        let (local, domain) = rule.split_once('@').unwrap_or(("", ""));
        let domain_ok = domain.len() >= 3
            && domain.len() <= 253
            && domain.contains('.')
            && !domain.starts_with(['.', '-'])
            && !domain.ends_with(['.', '-'])
            && domain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        let local_ok = local.len() <= 64
            && local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c));
        if !rule.contains('@') || !domain_ok || !local_ok || rule.matches('@').count() != 1 {
            return Err(format!(
                "{rule:?} is neither an address (it@client.example) nor a domain (@client.example)"
            ));
        }
        if !out.contains(&rule) {
            out.push(rule);
        }
    }
    Ok(out)
}

/// Whether `rules` take mail from `sender` (an address, any case): the
/// address itself or its exact domain (not a subdomain).
pub fn sender_allowed(rules: &[String], sender: &str) -> bool {
    let sender = sender.trim().to_ascii_lowercase();
    let Some((local, domain)) = sender.rsplit_once('@') else {
        return false;
    };
    if local.is_empty() || domain.is_empty() {
        return false;
    }
    rules.iter().any(|rule| match rule.strip_prefix('@') {
        Some(d) => d == domain,
        None => *rule == sender,
    })
}

/// Plain text of an HTML body: the content of `script`, `style`, `head`,
/// `title` and comments dropped, tags removed (block ends become line
/// breaks), entities decoded, blank runs collapsed. The result is text
/// only; it is shown as text, never as markup.
pub fn html_to_text(html: &str) -> String {
    let lower = html.to_ascii_lowercase();
    let mut out = String::with_capacity(html.len() / 2);
    let mut i = 0;
    let bytes = html.as_bytes();
    while i < bytes.len() {
        if bytes[i] != b'<' {
            let next = html[i..].find('<').map_or(html.len(), |n| i + n);
            out.push_str(&decode_entities(&html[i..next]));
            i = next;
            continue;
        }
        // A '<' that opens no tag ("a < b") is text.
        let opens = bytes
            .get(i + 1)
            .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'/' || *b == b'!');
        if !opens {
            out.push('<');
            i += 1;
            continue;
        }
        if lower[i..].starts_with("<!--") {
            i = lower[i..].find("-->").map_or(html.len(), |n| i + n + 3);
            continue;
        }
        let (tag_end, end) = match html[i..].find('>') {
            Some(n) => (i + n, i + n + 1),
            None => (html.len(), html.len()),
        };
        let tag = &lower[i + 1..tag_end];
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        let closing = tag.starts_with('/');
        if !closing && matches!(name.as_str(), "script" | "style" | "head" | "title") {
            let close = format!("</{name}");
            i = lower[end..].find(&close).map_or(html.len(), |n| {
                let at = end + n;
                lower[at..].find('>').map_or(html.len(), |m| at + m + 1)
            });
            continue;
        }
        let block = matches!(
            name.as_str(),
            "p" | "div" | "li" | "tr" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "table"
        );
        if name == "br" || (closing && block) {
            out.push('\n');
        }
        i = end;
    }
    tidy(&out)
}

fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let end = rest.find(';').filter(|end| *end <= 12);
        let decoded = end.and_then(|end| {
            let name = &rest[1..end];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" | "#39" => Some('\''),
                "nbsp" => Some(' '),
                _ => name
                    .strip_prefix("#x")
                    .or_else(|| name.strip_prefix("#X"))
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .or_else(|| name.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32),
            };
            c.map(|c| (c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Control characters (but line breaks and tabs) removed, lines trimmed,
/// runs of blank lines made one, cut to [`MAX_NOTE`] bytes.
pub fn tidy(text: &str) -> String {
    let mut out = String::new();
    let mut blank = 0;
    for line in text.lines() {
        let line: String = line
            .chars()
            .filter(|c| !c.is_control() || *c == '\t')
            .collect();
        let line = line.trim();
        if line.is_empty() {
            blank += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank > 0 { "\n\n" } else { "\n" });
        }
        blank = 0;
        out.push_str(line);
    }
    if out.len() > MAX_NOTE {
        let mut cut = MAX_NOTE;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push_str(" […]");
    }
    out
}

/// The incident a subject names: the first UUID in it (the reference
/// Steward's incident notifications carry, `[incident <id>]`).
pub fn reference(subject: &str) -> Option<String> {
    let chars: Vec<char> = subject.chars().collect();
    let shape = |w: &[char]| {
        w.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == '-',
            _ => c.is_ascii_hexdigit(),
        })
    };
    chars
        .windows(36)
        .find(|w| shape(w))
        .map(|w| w.iter().collect::<String>().to_ascii_lowercase())
}

/// A message as the shell parsed it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Message {
    /// The From address.
    pub from: Option<String>,
    pub subject: Option<String>,
    pub message_id: Option<String>,
    pub text: Option<String>,
    pub html: Option<String>,
    /// Attachments: (file name, size in bytes). Never stored.
    pub attachments: Vec<(String, usize)>,
}

/// What a message does.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Opens an incident with this title and first note.
    Open { title: String, note: String },
    /// Adds a note to the incident the subject names.
    Note { incident: String, note: String },
}

/// Why a message is refused.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// Not well formed (no sender, no Message-ID).
    Malformed(String),
    /// Its sender is not one the route's rules take.
    Sender(String),
}

/// Decides what `message` does on a route with sender `rules`.
pub fn decide(rules: &[String], message: &Message) -> Result<Action, Refusal> {
    let from = message
        .from
        .as_deref()
        .filter(|f| !f.trim().is_empty())
        .ok_or_else(|| Refusal::Malformed("the message has no From address".into()))?;
    if message
        .message_id
        .as_deref()
        .is_none_or(|m| m.trim().is_empty() || m.len() > 998)
    {
        return Err(Refusal::Malformed(
            "the message has no Message-ID (needed to refuse replays)".into(),
        ));
    }
    if !sender_allowed(rules, from) {
        return Err(Refusal::Sender(format!(
            "{from:?} is not a sender this route takes mail from"
        )));
    }
    let body = match (&message.text, &message.html) {
        (Some(text), _) if !text.trim().is_empty() => tidy(text),
        (_, Some(html)) => html_to_text(html),
        _ => String::new(),
    };
    let mut note = format!("Email from {from}");
    if !body.is_empty() {
        note.push_str(":\n\n");
        note.push_str(&body);
    }
    if !message.attachments.is_empty() {
        let listed: Vec<String> = message
            .attachments
            .iter()
            .take(10)
            .map(|(name, size)| {
                format!(
                    "{} ({size} bytes)",
                    tidy(name).chars().take(100).collect::<String>()
                )
            })
            .collect();
        note.push_str(&format!(
            "\n\n{} attachment(s) not kept: {}",
            message.attachments.len(),
            listed.join(", ")
        ));
    }
    let note = tidy(&note);
    let subject = tidy(message.subject.as_deref().unwrap_or_default()).replace('\n', " ");
    if let Some(incident) = reference(&subject) {
        return Ok(Action::Note { incident, note });
    }
    let title: String = if subject.is_empty() {
        format!("Email from {from}")
    } else {
        subject.chars().take(MAX_TITLE).collect()
    };
    Ok(Action::Open { title, note })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Vec<String> {
        check_rules(&["@Client.example".into(), "boss@elsewhere.example".into()]).unwrap()
    }

    #[test]
    fn senders_are_taken_only_by_the_rules() {
        let r = rules();
        assert_eq!(r, ["@client.example", "boss@elsewhere.example"]);
        assert!(sender_allowed(&r, "Anna@CLIENT.example"));
        assert!(sender_allowed(&r, "boss@elsewhere.example"));
        assert!(!sender_allowed(&r, "other@elsewhere.example"));
        assert!(!sender_allowed(&r, "x@evil.client.example"));
        assert!(!sender_allowed(&r, "x@client.example.evil"));
        assert!(!sender_allowed(&r, "client.example"));
        assert!(!sender_allowed(&r, "@client.example"));
        for bad in [
            "",
            "client.example",
            "@",
            "a@b",
            "a@@b.example",
            "a b@c.example",
            "@-x.example",
        ] {
            assert!(check_rules(&[bad.into()]).is_err(), "{bad}");
        }
        assert!(check_rules(&[]).is_err());
    }

    #[test]
    fn html_becomes_text_without_scripts() {
        let html = "<html><head><title>t</title><style>p{}</style></head><body>\
            <p>Printer &amp; scanner <b>down</b></p><script>alert('x')</script>\
            <!-- <script>hidden()</script> --><div>since 9&#58;00 &lt;script&gt;</div>\
            <SCRIPT type=x>evil()</SCRIPT><img src=x onerror=alert(1)>end</body></html>";
        let text = html_to_text(html);
        assert_eq!(text, "Printer & scanner down\nsince 9:00 <script>\nend");
        assert!(!text.contains("alert") && !text.contains("evil") && !text.contains("hidden"));
        // Unclosed and odd markup ends without a panic.
        assert_eq!(html_to_text("<script>never closed"), "");
        assert_eq!(
            html_to_text("a < b &bogus; &#xZZ; &"),
            "a < b &bogus; &#xZZ; &"
        );
        assert_eq!(html_to_text("<p"), "");
        assert_eq!(html_to_text("<pé"), "");
        assert_eq!(html_to_text("é<b>é</b>&é;"), "éé&é;");
    }

    #[test]
    fn a_reply_names_its_incident() {
        let id = "0190f3c2-7a1b-7c3d-8e4f-a1b2c3d4e5f6";
        assert_eq!(
            reference(&format!("Re: [incident {id}] disk full")).as_deref(),
            Some(id)
        );
        assert_eq!(
            reference(&format!("RE: {}", id.to_uppercase())).as_deref(),
            Some(id)
        );
        assert_eq!(reference("printer down"), None);
        let message = Message {
            from: Some("anna@client.example".into()),
            subject: Some(format!("Re: [incident {id}] disk full")),
            message_id: Some("<1@client.example>".into()),
            text: Some("Still full.\r\n".into()),
            ..Message::default()
        };
        assert_eq!(
            decide(&rules(), &message),
            Ok(Action::Note {
                incident: id.into(),
                note: "Email from anna@client.example:\n\nStill full.".into()
            })
        );
    }

    #[test]
    fn messages_open_incidents_or_are_refused() {
        let mut message = Message {
            from: Some("anna@client.example".into()),
            subject: Some("Printer\r\n down".into()),
            message_id: Some("<2@client.example>".into()),
            html: Some("<p>Help</p><script>x()</script>".into()),
            attachments: vec![("photo.jpg".into(), 2048)],
            ..Message::default()
        };
        assert_eq!(
            decide(&rules(), &message),
            Ok(Action::Open {
                title: "Printer down".into(),
                note: "Email from anna@client.example:\n\nHelp\n\n1 attachment(s) not kept: photo.jpg (2048 bytes)".into()
            })
        );
        message.from = Some("mallory@evil.example".into());
        assert!(matches!(
            decide(&rules(), &message),
            Err(Refusal::Sender(_))
        ));
        message.from = None;
        assert!(matches!(
            decide(&rules(), &message),
            Err(Refusal::Malformed(_))
        ));
        message.from = Some("anna@client.example".into());
        message.message_id = None;
        assert!(matches!(
            decide(&rules(), &message),
            Err(Refusal::Malformed(_))
        ));
        // A long body is cut.
        message.message_id = Some("<3@x>".into());
        message.html = None;
        message.text = Some("é".repeat(MAX_NOTE));
        let Ok(Action::Open { note, .. }) = decide(&rules(), &message) else {
            panic!()
        };
        assert!(note.len() <= MAX_NOTE + 8 && note.ends_with("[…]"));
    }
}
