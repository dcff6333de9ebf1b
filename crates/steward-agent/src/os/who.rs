//! `who` (utmp), as Linux and macOS print it: name, terminal, since,
//! optional `(host)`.

use crate::collectors::clean;
use steward_proto::LoggedInUser;

pub fn parse_who(text: &str) -> Vec<LoggedInUser> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let name = fields.next()?;
            let terminal = fields.next()?;
            let rest: Vec<&str> = fields.collect();
            let host = rest
                .last()
                .filter(|r| r.starts_with('('))
                .map(|h| h.trim_matches(|c| c == '(' || c == ')'))
                .unwrap_or("");
            let since = rest
                .iter()
                .take_while(|r| !r.starts_with('('))
                .copied()
                .collect::<Vec<_>>()
                .join(" ");
            Some(LoggedInUser {
                name: clean(name, 64),
                terminal: clean(terminal, 64),
                host: clean(host, 253),
                since: clean(&since, 64),
            })
        })
        .take(512)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_who() {
        let users = parse_who(
            "alice    pts/0        2026-11-26 09:12 (10.0.0.5)\nbob      tty1         2026-11-26 08:00\n",
        );
        assert_eq!(users.len(), 2);
        assert_eq!(
            (
                users[0].name.as_str(),
                users[0].host.as_str(),
                users[0].since.as_str()
            ),
            ("alice", "10.0.0.5", "2026-11-26 09:12")
        );
        assert_eq!(users[1].host, "");
    }
}
