//! `imauth user create|show|list|update|ban|unban|set-password|unlock|logout|delete`.
//! Passwords are read from stdin or a file, never from argv; output is the user as JSON,
//! never the password hash. Every command but `create` goes through `service::users` /
//! `service::admin`, the functions Easemob's REST routes call (one implementation).

use serde_json::json;
use shared::clock::SystemClock;
use shared::config::{Settings, StoreKind};
use shared::domain::LoginKey;
use shared::service::admin;
use shared::service::provision::NewUser;
use shared::service::users::{self, ContactUpdate};

use crate::common::{PasswordSource, PolicyArg, TableArg, fail, print_json, user_json};

#[derive(clap::Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user; the password is read from stdin (one line) or --password-file.
    Create(CreateArgs),
    /// Show a user (without the password hash), by user id or login name.
    Show(ShowArgs),
    /// Ban a user: logins are refused and every token issued so far stops working.
    Ban(UserRef),
    /// Lift a ban.
    Unban(UserRef),
    /// Set a new password (stdin or --password-file); every older token stops working.
    SetPassword(SetPasswordArgs),
    /// List an app's users, a page at a time (`next` is the cursor of the next page).
    List(ListArgs),
    /// Change a user's phone and/or email (unique in the app; "" removes it).
    Update(UpdateArgs),
    /// Clear the account's failed-login counter: a lockout ends at once.
    Unlock(UserRef),
    /// End every session: every token issued before now stops working.
    Logout(UserRef),
    /// Delete a user with everything that names it (counters, devices, push
    /// registrations, sessions).
    Delete(UserRef),
}

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    pub table: TableArg,
    /// The app whose users to list.
    #[arg(long)]
    pub app_id: String,
    /// Users per page (1 to 100).
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// The `next` cursor printed with the previous page.
    #[arg(long, value_name = "CURSOR")]
    pub after: Option<String>,
}

#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("change").required(true).multiple(true).args(["phone", "email"])))]
pub struct UpdateArgs {
    #[command(flatten)]
    pub user: UserRef,
    /// The new phone ("" removes it).
    #[arg(long)]
    pub phone: Option<String>,
    /// The new email ("" removes it).
    #[arg(long)]
    pub email: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct CreateArgs {
    #[command(flatten)]
    pub table: TableArg,
    #[command(flatten)]
    pub policy: PolicyArg,
    /// The app the user belongs to.
    #[arg(long)]
    pub app_id: String,
    /// Positive int64.
    #[arg(long, value_name = "N")]
    pub user_id: i64,
    /// Letters, digits, '_', '-', '.'; not all digits; stored lowercased.
    #[arg(long)]
    pub username: String,
    /// Digits with an optional leading '+' (separators allowed); unique in the app.
    #[arg(long)]
    pub phone: Option<String>,
    /// Unique in the app; stored lowercased.
    #[arg(long)]
    pub email: Option<String>,
    #[command(flatten)]
    pub password: PasswordSource,
}

#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("who").required(true).args(["user_id", "login"])))]
pub struct ShowArgs {
    #[command(flatten)]
    pub table: TableArg,
    /// The app the user belongs to.
    #[arg(long)]
    pub app_id: String,
    /// The user id.
    #[arg(long, value_name = "N")]
    pub user_id: Option<i64>,
    /// A phone, an email or a username, resolved as `/token/login` does.
    #[arg(long, value_name = "NAME")]
    pub login: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct UserRef {
    #[command(flatten)]
    pub table: TableArg,
    /// The app the user belongs to.
    #[arg(long)]
    pub app_id: String,
    /// The user id.
    #[arg(long, value_name = "N")]
    pub user_id: i64,
}

#[derive(clap::Args, Debug)]
pub struct SetPasswordArgs {
    #[command(flatten)]
    pub user: UserRef,
    #[command(flatten)]
    pub policy: PolicyArg,
    #[command(flatten)]
    pub password: PasswordSource,
}

pub async fn run(command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Create(args) => create(args).await,
        UserCommand::Show(args) => show(args).await,
        UserCommand::Ban(user) => set_activated(user, false).await,
        UserCommand::Unban(user) => set_activated(user, true).await,
        UserCommand::SetPassword(args) => set_password(args).await,
        UserCommand::List(args) => list(args).await,
        UserCommand::Update(args) => update(args).await,
        UserCommand::Unlock(user) => unlock(user).await,
        UserCommand::Logout(user) => logout(user).await,
        UserCommand::Delete(user) => delete(user).await,
    }
}

async fn create(args: CreateArgs) -> anyhow::Result<()> {
    let crypto = args.policy.crypto()?;
    let password = args.password.read()?;
    let store = args.table.store().await?;
    let new = NewUser {
        app_id: args.app_id,
        user_id: args.user_id,
        username: args.username,
        phone: args.phone,
        email: args.email,
        password,
        activated: Some(true),
    };
    let user = admin::create_user(&store, &crypto, new)
        .await
        .map_err(fail)?;
    print_json(&user_json(&user))
}

async fn show(args: ShowArgs) -> anyhow::Result<()> {
    let key = match (args.user_id, &args.login) {
        (Some(id), _) => LoginKey::UserId(id),
        (None, Some(login)) => LoginKey::parse_login_name(login).map_err(fail)?,
        (None, None) => anyhow::bail!("name the user with --user-id or --login"),
    };
    let store = args.table.store().await?;
    let user = admin::find_user(&store, &args.app_id, &key)
        .await
        .map_err(fail)?;
    print_json(&user_json(&user))
}

async fn set_activated(user: UserRef, activated: bool) -> anyhow::Result<()> {
    // Only the clock of `Crypto` is used here; the policy does not matter.
    let crypto = Settings {
        store: StoreKind::Dynamo,
        ..Settings::default()
    }
    .crypto()
    .map_err(fail)?;
    let store = user.table.store().await?;
    let updated = admin::set_activated(&store, &crypto, &user.app_id, user.user_id, activated)
        .await
        .map_err(fail)?;
    print_json(&user_json(&updated))
}

async fn set_password(args: SetPasswordArgs) -> anyhow::Result<()> {
    let crypto = args.policy.crypto()?;
    let password = args.password.read()?;
    let store = args.user.table.store().await?;
    let updated = admin::set_password(
        &store,
        &crypto,
        &args.user.app_id,
        args.user.user_id,
        password,
    )
    .await
    .map_err(fail)?;
    eprintln!("password set; tokens issued before now no longer work");
    print_json(&user_json(&updated))
}

async fn list(args: ListArgs) -> anyhow::Result<()> {
    let store = args.table.store().await?;
    let page = users::list(&store, &args.app_id, args.after.as_deref(), args.limit)
        .await
        .map_err(fail)?;
    print_json(&json!({
        "users": page.users.iter().map(user_json).collect::<Vec<_>>(),
        "next": page.next,
    }))
}

async fn update(args: UpdateArgs) -> anyhow::Result<()> {
    let store = args.user.table.store().await?;
    let update = ContactUpdate {
        phone: args.phone,
        email: args.email,
    };
    let user = users::update_contact(
        &store,
        &SystemClock,
        &args.user.app_id,
        args.user.user_id,
        &update,
    )
    .await
    .map_err(fail)?;
    print_json(&user_json(&user))
}

async fn unlock(user: UserRef) -> anyhow::Result<()> {
    let store = user.table.store().await?;
    let unlocked = users::unlock(&store, &user.app_id, user.user_id)
        .await
        .map_err(fail)?;
    print_json(&user_json(&unlocked))
}

async fn logout(user: UserRef) -> anyhow::Result<()> {
    let store = user.table.store().await?;
    let updated = users::logout(&store, &SystemClock, &user.app_id, user.user_id)
        .await
        .map_err(fail)?;
    eprintln!("logged out everywhere; tokens issued before now no longer work");
    print_json(&user_json(&updated))
}

async fn delete(user: UserRef) -> anyhow::Result<()> {
    let store = user.table.store().await?;
    let deleted = users::delete(&store, &user.app_id, &LoginKey::UserId(user.user_id))
        .await
        .map_err(fail)?;
    eprintln!("deleted, with its counters, devices, push registrations and sessions");
    print_json(&user_json(&deleted))
}
