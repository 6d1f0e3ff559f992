//! The command line: `serve`, the admin commands that bootstrap a domain, system tokens,
//! and `bench`. Admin commands print one JSON value on success (an object, or an array for
//! `list`), and one line on standard error on failure.

use std::time::Duration;

use clap::{Parser, Subcommand};
use serde_json::{Value, json};

#[cfg(feature = "bench")]
use crate::bench::{self, BenchOptions, Scenario};
pub use crate::config::one_line;
use crate::config::{GlobalSettings, LogFormat, Settings};
use crate::context::Context;
use crate::domain::{
    AuthType, DomainId, Email, Language, Name, NewUser, Password, RequiredAction, RoleBinding,
    RoleBindingId, RoleId, SystemToken, SystemTokenName, Tags, Timezone, User, UserId, UserState,
    Workspace, WorkspaceId, format_time, quoted, system_tokens::parse_lifetime,
};
use crate::error::{Error, Result};
use crate::server;
use crate::service::admin::{self, GroupMember};
use crate::service::system_tokens;

/// spaceid: a SpaceONE identity v2 service.
#[derive(Debug, Parser)]
#[command(name = "spaceid", version, about)]
pub struct Cli {
    /// Settings shared by every command.
    #[command(flatten)]
    pub global: GlobalSettings,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The settings this command line gives: the global ones with those of `serve` (from
    /// its flags, or for the other commands from the environment and defaults).
    pub fn settings(&self) -> Result<Settings> {
        match &self.command {
            Command::Serve(settings) => Ok((**settings).clone().with_global(self.global.clone())),
            _ => Settings::from_env(self.global.clone()),
        }
    }
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the gRPC API until SIGTERM or Ctrl-C.
    Serve(Box<Settings>),
    /// Create a domain with its managed roles and first domain admin; prints its domain_id.
    Init(InitArgs),
    /// Manage workspaces.
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    /// Manage workspace groups.
    #[command(subcommand, name = "workspace-group")]
    WorkspaceGroup(WorkspaceGroupCommand),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage role bindings.
    #[command(subcommand, name = "role-binding")]
    RoleBinding(RoleBindingCommand),
    /// Manage system tokens: what other SpaceONE services and spacectl present to call
    /// `Domain.get_public_key`.
    #[command(subcommand, name = "system-token")]
    SystemToken(SystemTokenCommand),
    /// Seed a database (or reuse one seeded before) and measure the API under load; see
    /// BENCHMARKS.md. Only in a build with the `bench` feature.
    Bench(BenchArgs),
    /// Ask a running server for its health (grpc.health.v1, plaintext); prints the status
    /// and exits 0 only for SERVING. For container health checks.
    Health(HealthArgs),
}

/// Sets up what the whole process shares before the runtime starts: the TLS crypto
/// provider and the log subscriber.
pub fn prepare_process(settings: &Settings) {
    server::tls::install_crypto_provider();
    init_tracing(settings);
}

fn init_tracing(settings: &Settings) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match settings.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Runs the command; `false`: it ran, and its answer is a failure (`health` on a server
/// that is not serving).
pub async fn run(settings: Settings, command: Command) -> Result<bool> {
    if let Command::Health(args) = &command {
        let (status, serving) = run_health(args).await?;
        println!("{status}");
        return Ok(serving);
    }
    if let Command::Serve(_) = command {
        // From here on SIGTERM stops the server gracefully, even while it is starting.
        let shutdown = server::shutdown_signal();
        // Bound before the database is opened: a port in use is found at once.
        let listener = server::bind(settings.listen, "--listen (SPACEID_LISTEN)").await?;
        let ctx = Context::open(&settings).await?;
        server::serve(ctx.clone(), &settings, listener, shutdown).await?;
        close(&ctx).await?;
        tracing::info!("server stopped");
        return Ok(true);
    }
    if let Command::Bench(_) = command {
        bench_built()?;
    }
    let ctx = Context::open(&settings).await?;
    match command {
        #[cfg(feature = "bench")]
        Command::Bench(args) => print!("{}", run_bench(ctx.clone(), &settings, &args).await?),
        command => {
            let output = run_admin(&ctx, command).await?;
            println!("{output}");
        }
    }
    close(&ctx).await?;
    Ok(true)
}

/// How long the database pool may take to close at the end; connections still in use then
/// (their calls were cut short) are closed with the process.
const POOL_CLOSE: Duration = Duration::from_secs(2);

async fn close(ctx: &Context) -> Result<()> {
    let busy = ctx.close(POOL_CLOSE).await?;
    if busy > 0 {
        tracing::warn!(
            connections = busy,
            "database connections still in use when the pool closed; their statements are \
             cancelled as the process ends"
        );
    }
    Ok(())
}

/// `spaceid health`.
#[derive(Debug, Clone, clap::Args)]
pub struct HealthArgs {
    /// The server's gRPC address.
    #[arg(long, default_value = "127.0.0.1:50051", value_parser = crate::config::parse_socket_address)]
    pub addr: std::net::SocketAddr,
    /// The service to ask about; empty: the whole server.
    #[arg(long, default_value = "")]
    pub service: String,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 3)]
    pub timeout: u64,
}

/// Runs `spaceid health`: the status the server reports, as gRPC names it (`SERVING`,
/// `NOT_SERVING`, ...), and whether it is SERVING.
pub async fn run_health(args: &HealthArgs) -> Result<(&'static str, bool)> {
    use tonic_health::pb::{
        HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
    };
    let timeout = Duration::from_secs(args.timeout.max(1));
    let failed =
        |why: String| Error::Config(format!("cannot ask {} for its health: {why}", args.addr));
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", args.addr))
        .map_err(|err| failed(err.to_string()))?
        .connect_timeout(timeout)
        .timeout(timeout)
        .connect()
        .await
        .map_err(|err| failed(err.to_string()))?;
    let answer = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: args.service.clone(),
        })
        .await
        .map_err(|status| failed(format!("{:?}: {}", status.code(), status.message())))?;
    let status = answer.into_inner().status();
    Ok((status.as_str_name(), status == ServingStatus::Serving))
}

/// `spaceid bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Members of the large workspace.
    #[arg(long, default_value_t = 100_000)]
    pub users: u64,
    /// Members of the small workspace.
    #[arg(long, default_value_t = 1_000)]
    pub small_users: u64,
    /// Calls in flight at once.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// HTTP/2 connections the calls share.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// Seconds each scenario is measured.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Seconds each scenario runs before it is measured.
    #[arg(long, default_value_t = 2)]
    pub warmup: u64,
    /// Scenarios to run, comma-separated (default: all): profile-get, list-small,
    /// list-large, list-small-filtered, list-large-filtered, find, stat, token-issue. The
    /// baseline, health, always runs.
    #[arg(long)]
    pub scenarios: Option<String>,
    /// Call a running server at HOST:PORT instead of serving in this process (it must use
    /// the same database).
    #[arg(long)]
    pub addr: Option<String>,
    /// Print one JSON document instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[cfg(feature = "bench")]
impl BenchArgs {
    /// The run these flags ask for.
    pub fn options(&self) -> Result<BenchOptions> {
        Ok(BenchOptions {
            users: self.users,
            small_users: self.small_users,
            concurrency: self.concurrency,
            connections: self.connections,
            duration: Duration::from_secs(self.duration),
            warmup: Duration::from_secs(self.warmup),
            scenarios: Scenario::parse_list(self.scenarios.as_deref())?,
            addr: self.addr.clone(),
        })
    }
}

/// What `spaceid bench` answers in a build without the `bench` feature.
pub const BENCH_NOT_BUILT: &str = "this spaceid is built without the bench (the `bench` \
    feature): run it with `cargo run --release --features bench -- bench ...`";

/// Refuses `spaceid bench` in a build without the `bench` feature, so the command says so
/// before it opens (and migrates) the database.
pub fn bench_built() -> Result<()> {
    if cfg!(feature = "bench") {
        Ok(())
    } else {
        Err(Error::Config(BENCH_NOT_BUILT.to_owned()))
    }
}

/// Runs `spaceid bench` and returns what it prints.
#[cfg(feature = "bench")]
pub async fn run_bench(
    ctx: std::sync::Arc<Context>,
    settings: &Settings,
    args: &BenchArgs,
) -> Result<String> {
    let report = bench::run(ctx, settings, &args.options()?).await?;
    Ok(if args.json {
        format!("{}\n", report.to_json())
    } else {
        report.to_table()
    })
}

/// `spaceid init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The domain's unique name.
    #[arg(long)]
    pub domain_name: String,
    /// The first domain admin's user id.
    #[arg(long)]
    pub admin_user_id: String,
    /// The first domain admin's password.
    #[arg(long, env = "SPACEID_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
    /// The admin's display name.
    #[arg(long)]
    pub admin_name: Option<String>,
    /// The admin's e-mail address.
    #[arg(long)]
    pub admin_email: Option<String>,
}

/// `spaceid workspace ...`.
#[derive(Debug, Subcommand)]
pub enum WorkspaceCommand {
    /// Create a workspace.
    Create {
        /// The domain.
        #[arg(long)]
        domain_id: DomainId,
        /// The workspace's name, unique in the domain.
        #[arg(long)]
        name: String,
        /// Tags as a JSON object.
        #[arg(long, default_value = "{}")]
        tags: String,
    },
    /// List the domain's workspaces, enabled or not, by name (a JSON array).
    List(DomainRef),
}

/// A domain.
#[derive(Debug, clap::Args)]
pub struct DomainRef {
    /// The domain.
    #[arg(long)]
    pub domain_id: DomainId,
}

/// `spaceid workspace-group ...`.
#[derive(Debug, Subcommand)]
pub enum WorkspaceGroupCommand {
    /// Create a workspace group with workspaces and members.
    Create {
        /// The domain.
        #[arg(long)]
        domain_id: DomainId,
        /// The group's name, unique in the domain.
        #[arg(long)]
        name: String,
        /// A workspace to put in the group (repeatable).
        #[arg(long = "workspace-id")]
        workspace_ids: Vec<WorkspaceId>,
        /// A member as USER_ID=ROLE_ID with a workspace role (repeatable).
        #[arg(long = "member")]
        members: Vec<String>,
    },
}

/// `spaceid user ...`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user (with no role bindings).
    Create(UserCreateArgs),
    /// List the domain's users by user id (a JSON array, without any secret).
    List(DomainRef),
    /// Disable a user: it cannot sign in, and every token it holds stops working at once.
    Disable(UserRef),
    /// Enable a disabled user again (its old tokens stay dead).
    Enable(UserRef),
    /// Delete a user with its role bindings; its tokens stop working at once.
    Delete(UserRef),
    /// Replace what a user must do first: UPDATE_PASSWORD (change its password) and
    /// ENFORCE_MFA (turn MFA on, and keep it on). No --action clears them.
    SetRequiredActions(RequiredActionsArgs),
}

/// `spaceid user set-required-actions`.
#[derive(Debug, clap::Args)]
pub struct RequiredActionsArgs {
    /// The domain.
    #[arg(long)]
    pub domain_id: DomainId,
    /// The user id.
    #[arg(long)]
    pub user_id: UserId,
    /// A required action: UPDATE_PASSWORD or ENFORCE_MFA (repeat for both).
    #[arg(long = "action", value_parser = required_action)]
    pub actions: Vec<RequiredAction>,
}

fn required_action(value: &str) -> std::result::Result<RequiredAction, String> {
    RequiredAction::parse(value).map_err(|error| error.to_string())
}

/// One user of a domain.
#[derive(Debug, clap::Args)]
pub struct UserRef {
    /// The domain.
    #[arg(long)]
    pub domain_id: DomainId,
    /// The user id.
    #[arg(long)]
    pub user_id: UserId,
}

/// `spaceid user create`.
#[derive(Debug, clap::Args)]
pub struct UserCreateArgs {
    /// The domain.
    #[arg(long)]
    pub domain_id: DomainId,
    /// The user id, unique in the domain.
    #[arg(long)]
    pub user_id: UserId,
    /// The password of a LOCAL user.
    #[arg(long, env = "SPACEID_USER_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Display name.
    #[arg(long)]
    pub name: Option<String>,
    /// E-mail address.
    #[arg(long)]
    pub email: Option<String>,
    /// LOCAL (a password here) or EXTERNAL.
    #[arg(long, default_value = "LOCAL")]
    pub auth_type: String,
    /// Language code.
    #[arg(long)]
    pub language: Option<String>,
    /// IANA time zone.
    #[arg(long)]
    pub timezone: Option<String>,
}

/// `spaceid role-binding ...`.
#[derive(Debug, Subcommand)]
pub enum RoleBindingCommand {
    /// Bind a user to a role in a workspace, or domain-wide.
    Create {
        /// The domain.
        #[arg(long)]
        domain_id: DomainId,
        /// The user.
        #[arg(long)]
        user_id: UserId,
        /// The role, e.g. managed-workspace-member.
        #[arg(long)]
        role_id: RoleId,
        /// The workspace; omit (or `*`) for every workspace or a domain-wide role.
        #[arg(long)]
        workspace_id: Option<WorkspaceId>,
    },
    /// List the domain's role bindings, oldest first (a JSON array).
    List {
        /// The domain.
        #[arg(long)]
        domain_id: DomainId,
        /// Only this user's bindings.
        #[arg(long)]
        user_id: Option<UserId>,
        /// Only the bindings to this workspace (`*`: the domain-wide ones).
        #[arg(long)]
        workspace_id: Option<WorkspaceId>,
    },
    /// Delete a role binding; new tokens are no longer granted on it.
    Delete {
        /// The domain.
        #[arg(long)]
        domain_id: DomainId,
        /// The binding, e.g. rb-11d4eeaa1411.
        role_binding_id: RoleBindingId,
    },
}

/// `spaceid system-token ...`.
#[derive(Debug, Subcommand)]
pub enum SystemTokenCommand {
    /// Make a system token; prints it once (`token`), with its `jti` and `expires_at`.
    Create {
        /// What the token is for, such as the service that will present it (its `aud`).
        #[arg(long)]
        name: String,
        /// How long it is valid: `30d`, `12h`, `90m` or `3600s` (at most 3650d).
        #[arg(long, default_value = "365d")]
        expires_in: String,
    },
    /// List every system token made, oldest first (a JSON array; never the tokens).
    List,
    /// Revoke a system token: no replica accepts it from then on.
    Revoke {
        /// The token's `jti`, as `create` and `list` print it.
        jti: String,
    },
}

/// Runs an admin command against the database and returns what it prints.
pub async fn run_admin(ctx: &Context, command: Command) -> Result<Value> {
    match command {
        Command::Serve(_) => Err(Error::internal("serve is not an admin command")),
        Command::Bench(_) => Err(Error::internal("bench is not an admin command")),
        Command::Health(_) => Err(Error::internal("health is not an admin command")),
        Command::Init(args) => run_init(ctx, args).await,
        Command::Workspace(command) => run_workspace(ctx, command).await,
        Command::WorkspaceGroup(command) => run_workspace_group(ctx, command).await,
        Command::User(command) => run_user(ctx, command).await,
        Command::RoleBinding(command) => run_role_binding(ctx, command).await,
        Command::SystemToken(command) => run_system_token(ctx, command).await,
    }
}

async fn run_init(ctx: &Context, args: InitArgs) -> Result<Value> {
    let InitArgs {
        domain_name,
        admin_user_id,
        admin_password,
        admin_name,
        admin_email,
    } = args;
    let admin_password = admin_password.ok_or_else(|| {
        Error::Config(
            "the first admin needs a password: give --admin-password, or set \
             SPACEID_ADMIN_PASSWORD"
                .into(),
        )
    })?;
    let admin_user = NewUser {
        user_id: UserId::parse(&admin_user_id)?,
        name: admin_name.as_deref().map(Name::parse).transpose()?,
        email: admin_email.as_deref().map(Email::parse).transpose()?,
        auth_type: AuthType::Local,
        password: Some(Password::parse(&admin_password)?),
        language: None,
        timezone: None,
        tags: Tags::default(),
    };
    let (domain, admin) = admin::init_domain(ctx, &domain_name, admin_user).await?;
    Ok(json!({
        "domain_id": domain.domain_id,
        "name": domain.name,
        "admin_user_id": admin.user_id,
        "created_at": format_time(domain.created_at),
    }))
}

async fn run_workspace(ctx: &Context, command: WorkspaceCommand) -> Result<Value> {
    match command {
        WorkspaceCommand::Create {
            domain_id,
            name,
            tags,
        } => {
            let workspace =
                admin::create_workspace(ctx, &domain_id, &name, parse_tags(&tags)?).await?;
            Ok(workspace_json(&workspace))
        }
        WorkspaceCommand::List(DomainRef { domain_id }) => {
            let workspaces = admin::list_workspaces(ctx, &domain_id).await?;
            Ok(workspaces.iter().map(workspace_json).collect())
        }
    }
}

async fn run_workspace_group(ctx: &Context, command: WorkspaceGroupCommand) -> Result<Value> {
    match command {
        WorkspaceGroupCommand::Create {
            domain_id,
            name,
            workspace_ids,
            members,
        } => {
            let members = members
                .iter()
                .map(|m| parse_member(m))
                .collect::<Result<Vec<_>>>()?;
            let group =
                admin::create_workspace_group(ctx, &domain_id, &name, &workspace_ids, &members)
                    .await?;
            Ok(json!({
                "workspace_group_id": group.workspace_group_id,
                "name": group.name,
                "domain_id": group.domain_id,
                "workspaces": workspace_ids,
                "users": members.iter().map(|m| json!({"user_id": m.user_id, "role_id": m.role_id})).collect::<Vec<_>>(),
                "created_at": format_time(group.created_at),
            }))
        }
    }
}

async fn run_user(ctx: &Context, command: UserCommand) -> Result<Value> {
    match command {
        UserCommand::Create(args) => {
            let UserCreateArgs {
                domain_id,
                user_id,
                password,
                name,
                email,
                auth_type,
                language,
                timezone,
            } = args;
            let auth_type = AuthType::parse(&auth_type.to_uppercase())?;
            if auth_type == AuthType::Local && password.is_none() {
                return Err(Error::Config(
                    "a LOCAL user needs a password: give --password, or set \
                     SPACEID_USER_PASSWORD (or --auth-type EXTERNAL for a user who signs in \
                     elsewhere)"
                        .into(),
                ));
            }
            let new = NewUser {
                user_id: UserId::parse(user_id.as_str())?,
                name: name.as_deref().map(Name::parse).transpose()?,
                email: email.as_deref().map(Email::parse).transpose()?,
                auth_type,
                password: password.as_deref().map(Password::parse).transpose()?,
                language: language.as_deref().map(Language::parse).transpose()?,
                timezone: timezone.as_deref().map(Timezone::parse).transpose()?,
                tags: Tags::default(),
            };
            let user = admin::create_user(ctx, &domain_id, new).await?;
            Ok(user_json(&user))
        }
        UserCommand::List(DomainRef { domain_id }) => {
            let users = admin::list_users(ctx, &domain_id).await?;
            Ok(users.iter().map(user_json).collect())
        }
        UserCommand::Disable(UserRef { domain_id, user_id }) => {
            let user =
                admin::set_user_state(ctx, &domain_id, &user_id, UserState::Disabled).await?;
            Ok(user_json(&user))
        }
        UserCommand::Enable(UserRef { domain_id, user_id }) => {
            let user = admin::set_user_state(ctx, &domain_id, &user_id, UserState::Enabled).await?;
            Ok(user_json(&user))
        }
        UserCommand::Delete(UserRef { domain_id, user_id }) => {
            admin::delete_user(ctx, &domain_id, &user_id).await?;
            Ok(json!({"domain_id": domain_id, "user_id": user_id, "deleted": true}))
        }
        UserCommand::SetRequiredActions(RequiredActionsArgs {
            domain_id,
            user_id,
            actions,
        }) => {
            let user = admin::set_required_actions(ctx, &domain_id, &user_id, actions).await?;
            Ok(user_json(&user))
        }
    }
}

async fn run_role_binding(ctx: &Context, command: RoleBindingCommand) -> Result<Value> {
    match command {
        RoleBindingCommand::Create {
            domain_id,
            user_id,
            role_id,
            workspace_id,
        } => {
            let binding = admin::create_role_binding(
                ctx,
                &domain_id,
                &user_id,
                &role_id,
                workspace_id.as_ref(),
            )
            .await;
            match binding {
                Ok(binding) => Ok(role_binding_json(&binding)),
                Err(Error::NotFound { key, .. }) if key == "role_id" => {
                    Err(unknown_role(ctx, &domain_id, &role_id).await)
                }
                Err(err) => Err(err),
            }
        }
        RoleBindingCommand::List {
            domain_id,
            user_id,
            workspace_id,
        } => {
            let bindings =
                admin::list_role_bindings(ctx, &domain_id, user_id.as_ref(), workspace_id.as_ref())
                    .await?;
            Ok(bindings.iter().map(role_binding_json).collect())
        }
        RoleBindingCommand::Delete {
            domain_id,
            role_binding_id,
        } => {
            let binding = admin::delete_role_binding(ctx, &domain_id, &role_binding_id).await?;
            Ok(json!({"role_binding_id": binding.role_binding_id, "deleted": true}))
        }
    }
}

/// The error for a role id the domain does not have, listing those it has.
async fn unknown_role(ctx: &Context, domain_id: &DomainId, role_id: &RoleId) -> Error {
    match admin::role_ids(ctx, domain_id).await {
        Ok(roles) if !roles.is_empty() => Error::Config(format!(
            "the domain has no role {}; its roles are: {}",
            quoted(role_id.as_str()),
            roles
                .iter()
                .map(RoleId::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Ok(_) => Error::not_found("role_id", role_id),
        Err(err) => err,
    }
}

async fn run_system_token(ctx: &Context, command: SystemTokenCommand) -> Result<Value> {
    match command {
        SystemTokenCommand::Create { name, expires_in } => {
            let name = SystemTokenName::parse(&name)?;
            let lifetime = parse_lifetime(&expires_in)?;
            let issued = system_tokens::create(ctx, &name, lifetime).await?;
            Ok(json!({
                "token": issued.token,
                "jti": issued.record.jti,
                "name": issued.record.name,
                "expires_at": format_time(issued.record.expires_at),
            }))
        }
        SystemTokenCommand::List => {
            let tokens = system_tokens::list(ctx).await?;
            Ok(tokens.iter().map(system_token_json).collect())
        }
        SystemTokenCommand::Revoke { jti } => {
            let token = system_tokens::revoke(ctx, &jti).await?;
            Ok(system_token_json(&token))
        }
    }
}

/// A system token's record; the token itself is shown only by `create`.
fn system_token_json(token: &SystemToken) -> Value {
    json!({
        "jti": token.jti,
        "name": token.name,
        "created_at": format_time(token.created_at),
        "expires_at": format_time(token.expires_at),
        "revoked_at": token.revoked_at.map(format_time),
    })
}

fn parse_tags(text: &str) -> Result<Tags> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Tags::parse(map),
        _ => Err(Error::invalid("tags", "must be a JSON object")),
    }
}

fn parse_member(text: &str) -> Result<GroupMember> {
    match text.split_once('=') {
        Some((user_id, role_id)) if !user_id.is_empty() && !role_id.is_empty() => Ok(GroupMember {
            user_id: UserId::new(user_id),
            role_id: RoleId::new(role_id),
        }),
        _ => Err(Error::invalid(
            "member",
            format!("{} is not USER_ID=ROLE_ID", quoted(text)),
        )),
    }
}

fn workspace_json(workspace: &Workspace) -> Value {
    json!({
        "workspace_id": workspace.workspace_id,
        "name": workspace.name,
        "state": workspace.state.as_str(),
        "domain_id": workspace.domain_id,
        "tags": workspace.tags.to_json(),
        "created_at": format_time(workspace.created_at),
    })
}

/// A user without any secret: no password hash, MFA settings or credential stamp.
fn user_json(user: &User) -> Value {
    json!({
        "user_id": user.user_id,
        "name": user.name.as_str(),
        "state": user.state.as_str(),
        "email": user.email.as_ref().map_or("", |email| email.as_str()),
        "auth_type": user.auth_type.as_str(),
        "required_actions": user
            .required_actions
            .iter()
            .map(|action| action.as_str())
            .collect::<Vec<_>>(),
        "domain_id": user.domain_id,
        "created_at": format_time(user.created_at),
    })
}

fn role_binding_json(binding: &RoleBinding) -> Value {
    json!({
        "role_binding_id": binding.role_binding_id,
        "user_id": binding.user_id,
        "role_id": binding.role_id,
        "role_type": binding.role_type.as_str(),
        "resource_group": binding.resource_group.as_str(),
        "workspace_id": binding.workspace_id,
        "domain_id": binding.domain_id,
        "created_at": format_time(binding.created_at),
    })
}
