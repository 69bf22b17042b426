//! `callbase users ...` and `callbase tokens ...`.

use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;

use crate::domain::timefmt::{format_rfc3339, now_unix};
use crate::store::{Scope, Store, StoreError, User};

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a user.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
    },
    /// List users.
    List,
}

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Create an API token for a user; the token is printed once, alone on the last line.
    Create {
        /// The user's email.
        #[arg(long)]
        user: String,
        /// A label to tell tokens apart.
        #[arg(long, default_value = "default")]
        name: String,
        /// Days until the token stops working (default: never).
        #[arg(long)]
        expires_in_days: Option<u32>,
        /// What the token may do: `read` (every write answers 403) or `write`.
        #[arg(long, value_enum, default_value_t = ScopeArg::Write)]
        scope: ScopeArg,
    },
    /// List a user's tokens (never the secrets).
    List {
        #[arg(long)]
        user: String,
    },
    /// Revoke a token by id; it stops working at once.
    Revoke { id: i64 },
}

/// A token's scope on the command line.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ScopeArg {
    Read,
    Write,
}

impl From<ScopeArg> for Scope {
    fn from(scope: ScopeArg) -> Self {
        match scope {
            ScopeArg::Read => Scope::Read,
            ScopeArg::Write => Scope::Write,
        }
    }
}

pub async fn user_by_email(store: &dyn Store, email: &str) -> anyhow::Result<User> {
    store
        .find_user_by_email(email)
        .await?
        .with_context(|| format!("no user with email {email}"))
}

pub async fn users(db: &super::Database, command: UsersCommand) -> anyhow::Result<ExitCode> {
    let store = db.connect().await?;
    match command {
        UsersCommand::Create { email, name } => {
            let email = email.trim();
            if !email.contains('@') || email.len() > 255 {
                anyhow::bail!("{email:?} is not an email address");
            }
            match store.create_user(email, name.trim()).await {
                Ok(user) => println!(
                    "created user {} <{}> (id {})",
                    user.name, user.email, user.id
                ),
                Err(StoreError::Conflict(message)) => anyhow::bail!(message),
                Err(err) => return Err(err.into()),
            }
        }
        UsersCommand::List => {
            println!("{:>6}  {:<32}  {:<24}  CREATED", "ID", "EMAIL", "NAME");
            for user in store.list_users().await? {
                println!(
                    "{:>6}  {:<32}  {:<24}  {}",
                    user.id,
                    user.email,
                    user.name,
                    format_rfc3339(user.created_at)
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn tokens(db: &super::Database, command: TokensCommand) -> anyhow::Result<ExitCode> {
    let store = db.connect().await?;
    match command {
        TokensCommand::Create {
            user,
            name,
            expires_in_days,
            scope,
        } => {
            let user = user_by_email(store.as_ref(), &user).await?;
            let scope = Scope::from(scope);
            let (id, secret) =
                crate::token::issue(store.as_ref(), &user, &name, expires_in_days, scope).await?;
            println!(
                "created {} token {id} ({name}) for {}; it is shown only this once:",
                scope.as_str(),
                user.email
            );
            println!("{secret}");
        }
        TokensCommand::List { user } => {
            let user = user_by_email(store.as_ref(), &user).await?;
            println!(
                "{:>6}  {:<20}  {:<12}  {:<6}  {:<20}  {:<20}  STATUS",
                "ID", "NAME", "PREFIX", "SCOPE", "CREATED", "EXPIRES"
            );
            let now = now_unix();
            for token in store.list_tokens(user.id).await? {
                let status = match (token.revoked_at, token.expires_at) {
                    (Some(at), _) => format!("revoked {}", format_rfc3339(at)),
                    (None, Some(at)) if at <= now => "expired".to_owned(),
                    _ => "active".to_owned(),
                };
                println!(
                    "{:>6}  {:<20}  {:<12}  {:<6}  {:<20}  {:<20}  {status}",
                    token.id,
                    token.name,
                    format!("{}…", token.prefix),
                    token.scope.as_str(),
                    format_rfc3339(token.created_at),
                    token
                        .expires_at
                        .map_or_else(|| "never".to_owned(), format_rfc3339),
                );
            }
        }
        TokensCommand::Revoke { id } => {
            if !store.revoke_token(id).await? {
                anyhow::bail!("no active token with id {id}");
            }
            println!("revoked token {id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
