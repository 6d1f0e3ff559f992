//! The bench's data set: a domain named `bench` with a large and a small workspace, an owner
//! bound in both, and members made in bulk through `service::seed`. A database seeded before
//! is reused, and topped up when it holds fewer members than asked for.

use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use crate::context::Context;
use crate::domain::{
    AuthType, DomainId, Name, NewUser, Password, Role, RoleType, Tags, UserId, UserState,
    Workspace, WorkspaceId,
};
use crate::error::{Error, Result};
use crate::service::admin;
use crate::service::seed::{self, Membership, NewMember};

/// The bench domain's name; finding it means the database was seeded before.
pub const DOMAIN_NAME: &str = "bench";
/// The password of every bench user.
pub const PASSWORD: &str = "Bench-Passw0rd";
/// The domain admin.
const ADMIN_ID: &str = "admin@bench.test";
/// The user that owns both workspaces and makes the calls.
pub const OWNER_ID: &str = "owner@bench.test";
/// Members per transaction (and progress bar step).
const MEMBERS_PER_TRANSACTION: usize = 5_000;

/// The members of the large workspace are `user000000@bench.test` and on.
pub const LARGE_PREFIX: &str = "user";
/// The members of the small workspace are `small000000@bench.test` and on.
const SMALL_PREFIX: &str = "small";

/// What the scenarios run against.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The bench domain.
    pub domain_id: DomainId,
    /// The workspace with `--users` members.
    pub large: WorkspaceSize,
    /// The workspace with `--small-users` members.
    pub small: WorkspaceSize,
    /// Members this run added (0 when the database was seeded before).
    pub seeded: u64,
    /// How long making them took, in seconds.
    pub seed_secs: f64,
    /// The password hash the members sign in against.
    pub member_hash: Option<String>,
}

/// A workspace and its member count, the owner included.
#[derive(Debug, Clone)]
pub struct WorkspaceSize {
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// Its members.
    pub members: u64,
}

/// The state of member number `index`: one in ten is DISABLED.
pub fn member_state(index: u64) -> UserState {
    if index % 10 == 9 {
        UserState::Disabled
    } else {
        UserState::Enabled
    }
}

/// The user id of member number `index` of the large workspace.
pub fn large_member_id(index: u64) -> String {
    member_id(LARGE_PREFIX, index)
}

/// The user id of member number `index` of the small workspace.
pub fn small_member_id(index: u64) -> String {
    member_id(SMALL_PREFIX, index)
}

fn member_id(prefix: &str, index: u64) -> String {
    format!("{prefix}{index:06}@bench.test")
}

/// Finds or makes the bench data set with `users` members in the large workspace and
/// `small_users` in the small one.
pub async fn prepare(ctx: &Context, users: u64, small_users: u64) -> Result<Dataset> {
    let password = Password::parse(PASSWORD)?;
    let domain_id = match seed::domain_named(ctx, DOMAIN_NAME).await? {
        Some(domain_id) => domain_id,
        None => {
            let admin = local_user(ADMIN_ID, "Bench Admin", &password)?;
            admin::init_domain(ctx, DOMAIN_NAME, admin)
                .await?
                .0
                .domain_id
        }
    };
    if seed::user(ctx, &domain_id, &UserId::new(OWNER_ID))
        .await?
        .is_none()
    {
        let owner = local_user(OWNER_ID, "Bench Owner", &password)?;
        admin::create_user(ctx, &domain_id, owner).await?;
    }
    let large = workspace(ctx, &domain_id, "large").await?;
    let small = workspace(ctx, &domain_id, "small").await?;

    let started = Instant::now();
    let large_have = members(ctx, &domain_id, &large).await? - 1;
    let small_have = members(ctx, &domain_id, &small).await? - 1;
    let missing = users.saturating_sub(large_have) + small_users.saturating_sub(small_have);
    if missing > 0 {
        eprintln!("seeding {missing} members (password hashed once, at the server's cost)");
        let hash = ctx.hasher.hash(&password).await?;
        let progress = progress_bar(missing);
        let plans = [
            (&large, LARGE_PREFIX, large_have, users),
            (&small, SMALL_PREFIX, small_have, small_users),
        ];
        for (workspace, prefix, from, to) in plans {
            add_members(ctx, workspace, prefix, from..to, &hash, &progress).await?;
        }
        progress.finish_and_clear();
    }
    let seed_secs = started.elapsed().as_secs_f64();
    let mut member_hash = None;
    for user_id in [large_member_id(0), OWNER_ID.to_owned()] {
        if let Some(user) = seed::user(ctx, &domain_id, &UserId::new(user_id)).await? {
            member_hash = user.password_hash;
            break;
        }
    }
    Ok(Dataset {
        member_hash,
        large: WorkspaceSize {
            members: members(ctx, &domain_id, &large).await?,
            workspace_id: large.workspace_id,
        },
        small: WorkspaceSize {
            members: members(ctx, &domain_id, &small).await?,
            workspace_id: small.workspace_id,
        },
        domain_id,
        seeded: missing,
        seed_secs,
    })
}

/// The workspace named `name` with the owner bound to it, made if missing.
async fn workspace(ctx: &Context, domain_id: &DomainId, name: &str) -> Result<Workspace> {
    let existing = admin::list_workspaces(ctx, domain_id)
        .await?
        .into_iter()
        .find(|workspace| workspace.name == name);
    let workspace = match existing {
        Some(workspace) => workspace,
        None => admin::create_workspace(ctx, domain_id, name, Tags::default()).await?,
    };
    let owner = UserId::new(OWNER_ID);
    let bound =
        admin::list_role_bindings(ctx, domain_id, Some(&owner), Some(&workspace.workspace_id))
            .await?;
    if bound.is_empty() {
        admin::create_role_binding(
            ctx,
            domain_id,
            &owner,
            &role(RoleType::WorkspaceOwner).role_id,
            Some(&workspace.workspace_id),
        )
        .await?;
    }
    Ok(workspace)
}

/// The password hash the members of `data` sign in against.
pub fn stored_hash(data: &Dataset) -> Result<String> {
    data.member_hash
        .clone()
        .ok_or_else(|| Error::internal("the bench members have no password hash"))
}

async fn members(ctx: &Context, domain_id: &DomainId, workspace: &Workspace) -> Result<u64> {
    seed::member_count(ctx, domain_id, &workspace.workspace_id).await
}

/// Adds members number `indexes` to `workspace`, a transaction per
/// `MEMBERS_PER_TRANSACTION`. Member ids follow their index, so a data set cut short by an
/// interruption is topped up where its last committed transaction ended.
async fn add_members(
    ctx: &Context,
    workspace: &Workspace,
    prefix: &str,
    indexes: std::ops::Range<u64>,
    password_hash: &str,
    progress: &ProgressBar,
) -> Result<()> {
    let member_role = role(RoleType::WorkspaceMember);
    let membership = Membership {
        domain_id: &workspace.domain_id,
        workspace_id: &workspace.workspace_id,
        role: &member_role,
        password_hash,
    };
    let mut start = indexes.start;
    while start < indexes.end {
        let end = (start + MEMBERS_PER_TRANSACTION as u64).min(indexes.end);
        let batch = (start..end)
            .map(|index| new_member(prefix, index))
            .collect::<Result<Vec<_>>>()?;
        seed::add_members(ctx, membership, &batch).await?;
        progress.inc(end - start);
        start = end;
    }
    seed::analyze(ctx).await
}

fn new_member(prefix: &str, index: u64) -> Result<NewMember> {
    let mut tags = serde_json::Map::new();
    tags.insert("team".into(), format!("team-{}", index % 20).into());
    tags.insert("bench".into(), true.into());
    Ok(NewMember {
        user_id: UserId::parse(&member_id(prefix, index))?,
        name: Name::parse(&format!("Bench User {index}"))?,
        state: member_state(index),
        tags: Tags::parse(tags)?,
    })
}

fn role(role_type: RoleType) -> Role {
    Role::managed()
        .into_iter()
        .find(|role| role.role_type == role_type)
        .unwrap_or_else(|| unreachable!("every role type has a managed role"))
}

fn local_user(user_id: &str, name: &str, password: &Password) -> Result<NewUser> {
    Ok(NewUser {
        user_id: UserId::parse(user_id)?,
        name: Some(Name::parse(name)?),
        email: None,
        auth_type: AuthType::Local,
        password: Some(password.clone()),
        language: None,
        timezone: None,
        tags: Tags::default(),
    })
}

fn progress_bar(total: u64) -> ProgressBar {
    let progress = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(
        "{elapsed_precise} [{bar:40}] {pos}/{len} members ({per_sec}, {eta} left)",
    ) {
        progress.set_style(style.progress_chars("=> "));
    }
    progress
}
