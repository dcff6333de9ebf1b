//! `steward otlp-token list|create|revoke`: an organisation's OTLP
//! ingestion tokens (OpenTelemetry exporters and collectors push metrics
//! and logs with one to `/api/v1/otlp`). The token's text is shown once.

use crate::client::{Client, Remote};
use crate::{answered, output, print_json, print_text};
use anyhow::{Result, bail};
use clap::Subcommand;
use serde_json::{Value, json};

#[derive(Subcommand, Debug)]
pub enum OtlpTokenCommand {
    /// Ingestion tokens, by organisation and name (never their text).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Creates a token and prints its text (shown this once) and the
    /// exporter settings that use it.
    Create {
        name: String,
        /// The organisation, by name (yours when you have one).
        #[arg(long)]
        org: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Revokes a token by its id: requests bearing it are refused at once.
    Revoke {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn otlp_token(command: OtlpTokenCommand, remote: &Remote) -> Result<()> {
    let client = Client::new(remote)?;
    match command {
        OtlpTokenCommand::List { json } => {
            let list = client.get("/api/v1/otlp-tokens").await?;
            if json {
                print_json(&list)
            } else {
                print_text(token_table(&list))
            }
        }
        OtlpTokenCommand::Create { name, org, json } => {
            let answer = client
                .post("/api/v1/otlp-tokens", &json!({ "name": name, "org": org }))
                .await?;
            let token = answer["token"].as_str().unwrap_or("");
            answered(
                json,
                &answer,
                format!(
                    "Created ingestion token {name:?} (shown once):\n{token}\n\
                     Exporters: OTEL_EXPORTER_OTLP_ENDPOINT=https://SERVER/api/v1/otlp\n\
                     OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20{token}"
                ),
            )
        }
        OtlpTokenCommand::Revoke { id, json } => {
            if uuid::Uuid::parse_str(&id).is_err() {
                bail!("{id:?} is not an ingestion token id (see `steward otlp-token list`)");
            }
            let answer = client.delete(&format!("/api/v1/otlp-tokens/{id}")).await?;
            answered(json, &answer, format!("Revoked ingestion token {id}."))
        }
    }
}

pub fn token_table(list: &Value) -> String {
    let items = list.as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        return "No ingestion tokens.".into();
    }
    let mut rows = vec![vec!["ID".to_string(), "NAME".into(), "CREATED BY".into()]];
    for t in &items {
        rows.push(vec![
            t["id"].as_str().unwrap_or("").to_string(),
            t["name"].as_str().unwrap_or("").to_string(),
            t["created_by"].as_str().unwrap_or("").to_string(),
        ]);
    }
    output::table(&rows)
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_read_as_a_table() {
        let text = super::token_table(&serde_json::json!([
            { "id": "0190", "name": "collector", "created_by": "admin" }
        ]));
        assert!(
            text.contains("collector") && text.contains("CREATED BY"),
            "{text}"
        );
        assert_eq!(
            super::token_table(&serde_json::json!([])),
            "No ingestion tokens."
        );
    }
}
