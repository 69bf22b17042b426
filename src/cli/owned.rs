//! `callbase assistants ...` and `callbase campaigns ...`: the same management
//! the API offers, for operators and scripts.

use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};

use super::admin::user_by_email;
use crate::domain::live::{ASSISTANT_STATUSES, CAMPAIGN_STATUSES, is_e164};
use crate::domain::timefmt::format_rfc3339;
use crate::store::{Assistant, AssistantFields, CampaignFields, Store, StoreError};

#[derive(Debug, Subcommand)]
pub enum AssistantsCommand {
    /// Create an assistant; its webhook signing secret is printed once.
    Create {
        #[arg(long)]
        user: String,
        #[arg(long)]
        name: String,
        #[command(flatten)]
        settings: AssistantSettings,
    },
    /// Change an assistant's settings (only those given).
    Update {
        id: i64,
        #[arg(long)]
        user: String,
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        settings: AssistantSettings,
    },
    /// Delete an assistant; its calls keep its name.
    Delete {
        id: i64,
        #[arg(long)]
        user: String,
    },
    /// List a user's assistants.
    List {
        #[arg(long)]
        user: String,
    },
    /// Replace an assistant's webhook signing secret; the new one is printed once.
    RotateSecret {
        id: i64,
        #[arg(long)]
        user: String,
    },
}

/// Optional assistant settings shared by create and update.
#[derive(Debug, Args)]
pub struct AssistantSettings {
    /// `active` or `inactive`.
    #[arg(long)]
    status: Option<String>,
    /// The number it calls from (E.164); an empty value clears it.
    #[arg(long)]
    phone_number: Option<String>,
    /// Where post-call webhooks go; an empty value clears it.
    #[arg(long)]
    webhook_url: Option<String>,
    /// Send post-call webhooks.
    #[arg(long)]
    webhook_active: Option<bool>,
    /// Only for calls that end `completed` (default true).
    #[arg(long)]
    webhook_only_on_completed: Option<bool>,
    /// Include the recording URL in the payload (default true).
    #[arg(long)]
    webhook_include_recording: Option<bool>,
}

impl AssistantSettings {
    fn apply(self, mut f: AssistantFields) -> anyhow::Result<AssistantFields> {
        if let Some(status) = self.status {
            if !ASSISTANT_STATUSES.contains(&status.as_str()) {
                bail!("--status must be one of {}", ASSISTANT_STATUSES.join(", "));
            }
            f.status = status;
        }
        if let Some(phone) = self.phone_number {
            if !phone.is_empty() && !is_e164(&phone) {
                bail!("--phone-number must be E.164, e.g. +4930123456");
            }
            f.phone_number = Some(phone).filter(|p| !p.is_empty());
        }
        if let Some(url) = self.webhook_url {
            if !url.is_empty() {
                crate::webhook::check_url(&url)
                    .map_err(|e| anyhow::anyhow!("--webhook-url: {e}"))?;
            }
            f.webhook_url = Some(url).filter(|u| !u.is_empty());
        }
        f.is_webhook_active = self.webhook_active.unwrap_or(f.is_webhook_active);
        f.send_webhook_only_on_completed = self
            .webhook_only_on_completed
            .unwrap_or(f.send_webhook_only_on_completed);
        f.include_recording_in_webhook = self
            .webhook_include_recording
            .unwrap_or(f.include_recording_in_webhook);
        if f.is_webhook_active && f.webhook_url.is_none() {
            bail!("an active webhook needs --webhook-url");
        }
        Ok(f)
    }
}

#[derive(Debug, Subcommand)]
pub enum CampaignsCommand {
    /// Create a campaign.
    Create {
        #[arg(long)]
        user: String,
        #[arg(long)]
        name: String,
        /// `active`, `paused` or `completed`.
        #[arg(long, default_value = "active")]
        status: String,
    },
    /// Rename a campaign or change its status.
    Update {
        id: i64,
        #[arg(long)]
        user: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        status: Option<String>,
    },
    /// Delete a campaign; its calls keep its name.
    Delete {
        id: i64,
        #[arg(long)]
        user: String,
    },
    /// List a user's campaigns.
    List {
        #[arg(long)]
        user: String,
    },
}

fn check_name(name: &str) -> anyhow::Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 255 {
        bail!("--name must be 1 to 255 characters");
    }
    Ok(name.to_owned())
}

fn named<T>(result: Result<T, StoreError>) -> anyhow::Result<T> {
    match result {
        Err(StoreError::Conflict(_)) => bail!("that name is already taken"),
        other => Ok(other?),
    }
}

fn print_assistant(a: &Assistant) {
    let f = &a.fields;
    println!(
        "{:>6}  {:<24}  {:<8}  {:<16}  {:<6}  {}",
        a.id,
        f.name,
        f.status,
        f.phone_number.as_deref().unwrap_or("-"),
        if f.is_webhook_active { "on" } else { "off" },
        f.webhook_url.as_deref().unwrap_or("-"),
    );
}

async fn current(store: &dyn Store, user_id: i64, id: i64) -> anyhow::Result<Assistant> {
    store
        .get_assistant(user_id, id)
        .await?
        .with_context(|| format!("the user has no assistant {id}"))
}

pub async fn assistants(
    db: &super::Database,
    command: AssistantsCommand,
) -> anyhow::Result<ExitCode> {
    let store = db.connect().await?;
    let store = store.as_ref();
    match command {
        AssistantsCommand::Create {
            user,
            name,
            settings,
        } => {
            let user = user_by_email(store, &user).await?;
            let fields = settings.apply(AssistantFields::named(check_name(&name)?))?;
            let secret = crate::webhook::generate_secret();
            let a = named(
                store
                    .create_assistant(user.id, fields, secret.clone())
                    .await,
            )?;
            println!(
                "created assistant {} ({}); its webhook signing secret is shown only this once:",
                a.id, a.fields.name
            );
            println!("{secret}");
        }
        AssistantsCommand::Update {
            id,
            user,
            name,
            settings,
        } => {
            let user = user_by_email(store, &user).await?;
            let mut fields = current(store, user.id, id).await?.fields;
            if let Some(name) = name {
                fields.name = check_name(&name)?;
            }
            let fields = settings.apply(fields)?;
            let a = named(store.update_assistant(user.id, id, fields).await)?
                .with_context(|| format!("the user has no assistant {id}"))?;
            print_assistant(&a);
            let secret = crate::webhook::generate_secret();
            if a.fields.is_webhook_active
                && store
                    .ensure_webhook_secret(user.id, id, secret.clone())
                    .await?
            {
                println!("its new webhook signing secret is shown only this once:");
                println!("{secret}");
            }
        }
        AssistantsCommand::Delete { id, user } => {
            let user = user_by_email(store, &user).await?;
            if !store.delete_assistant(user.id, id).await? {
                bail!("the user has no assistant {id}");
            }
            println!("deleted assistant {id}");
        }
        AssistantsCommand::List { user } => {
            let user = user_by_email(store, &user).await?;
            println!(
                "{:>6}  {:<24}  {:<8}  {:<16}  {:<6}  WEBHOOK URL",
                "ID", "NAME", "STATUS", "PHONE", "HOOK"
            );
            let page = store.list_assistants(user.id, u64::MAX >> 1, 0).await?;
            for a in &page.rows {
                print_assistant(a);
            }
        }
        AssistantsCommand::RotateSecret { id, user } => {
            let user = user_by_email(store, &user).await?;
            let secret = crate::webhook::generate_secret();
            if !store
                .set_webhook_secret(user.id, id, secret.clone())
                .await?
            {
                bail!("the user has no assistant {id}");
            }
            println!("new webhook signing secret of assistant {id}; it is shown only this once:");
            println!("{secret}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn check_campaign_status(status: &str) -> anyhow::Result<String> {
    if !CAMPAIGN_STATUSES.contains(&status) {
        bail!("--status must be one of {}", CAMPAIGN_STATUSES.join(", "));
    }
    Ok(status.to_owned())
}

pub async fn campaigns(
    db: &super::Database,
    command: CampaignsCommand,
) -> anyhow::Result<ExitCode> {
    let store = db.connect().await?;
    let store = store.as_ref();
    match command {
        CampaignsCommand::Create { user, name, status } => {
            let user = user_by_email(store, &user).await?;
            let fields = CampaignFields {
                name: check_name(&name)?,
                status: check_campaign_status(&status)?,
            };
            let c = named(store.create_campaign(user.id, fields).await)?;
            println!("created campaign {} ({})", c.id, c.name);
        }
        CampaignsCommand::Update {
            id,
            user,
            name,
            status,
        } => {
            let user = user_by_email(store, &user).await?;
            let c = store
                .get_campaign(user.id, id)
                .await?
                .with_context(|| format!("the user has no campaign {id}"))?;
            let fields = CampaignFields {
                name: name.as_deref().map_or(Ok(c.name), check_name)?,
                status: status
                    .as_deref()
                    .map_or(Ok(c.status), check_campaign_status)?,
            };
            let c = named(store.update_campaign(user.id, id, fields).await)?
                .with_context(|| format!("the user has no campaign {id}"))?;
            println!("updated campaign {} ({}, {})", c.id, c.name, c.status);
        }
        CampaignsCommand::Delete { id, user } => {
            let user = user_by_email(store, &user).await?;
            if !store.delete_campaign(user.id, id).await? {
                bail!("the user has no campaign {id}");
            }
            println!("deleted campaign {id}");
        }
        CampaignsCommand::List { user } => {
            let user = user_by_email(store, &user).await?;
            println!("{:>6}  {:<24}  {:<10}  CREATED", "ID", "NAME", "STATUS");
            for c in store.list_campaigns(user.id).await? {
                println!(
                    "{:>6}  {:<24}  {:<10}  {}",
                    c.id,
                    c.name,
                    c.status,
                    format_rfc3339(c.created_at)
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
