//! Workspace membership: the users bound to a workspace (directly, through a workspace
//! group, or by a `*` binding that covers every workspace of the domain), paged, counted,
//! searched and aggregated by the database.
//!
//! Every query starts from one *base relation* per workspace: two arms, the bindings in the
//! workspace and the `*` bindings, each joined to its user, so both engines page it in
//! `user_id` order straight off `ix_role_bindings_members` and stop after the page. The
//! query compiler (`crate::query`) wraps that relation with the caller's conditions; the
//! scope is inside it, out of their reach. An unfiltered count is read from the counts the
//! database keeps (`workspaces.member_count` + `domains.shared_member_count`).

use sea_orm::{
    ConnectionTrait, DatabaseBackend, QueryResult,
    sea_query::{Alias, Cond, Expr, JoinType, LikeExpr, Query, SelectStatement, UnionType},
};
use tracing::instrument;

use super::{Executor, conn};
use crate::domain::{
    DomainId, Email, FindFilter, Language, Listing, Member, MemberFilter, Name, ResourceGroup,
    RoleBinding, RoleType, Tags, Timezone, UserId, UserSummary, UserView, WORKSPACE_WILDCARD,
    WorkspaceId,
};
use crate::error::{Error, Result};
use crate::query::{self, Engine, Field, Kind, Resource, Search, Stat};

/// What a query may touch of a workspace's members: the user's own fields, never its
/// password hash, MFA settings or credential version.
pub static RESOURCE: Resource = Resource {
    fields: &[
        Field {
            key: "user_id",
            kind: Kind::Text,
            folded: Some("user_id_folded"),
        },
        Field {
            key: "name",
            kind: Kind::Text,
            folded: Some("name_folded"),
        },
        Field {
            key: "state",
            kind: Kind::Text,
            folded: None,
        },
        Field {
            key: "email",
            kind: Kind::Text,
            folded: Some("email_folded"),
        },
        Field {
            key: "email_verified",
            kind: Kind::Bool,
            folded: None,
        },
        Field {
            key: "auth_type",
            kind: Kind::Text,
            folded: None,
        },
        Field {
            key: "role_type",
            kind: Kind::Text,
            folded: None,
        },
        Field {
            key: "language",
            kind: Kind::Text,
            folded: None,
        },
        Field {
            key: "timezone",
            kind: Kind::Text,
            folded: None,
        },
        Field {
            key: "tags",
            kind: Kind::Json,
            folded: Some("tags_folded"),
        },
        Field {
            key: "required_actions",
            kind: Kind::JsonArray,
            folded: None,
        },
        Field {
            key: "created_at",
            kind: Kind::DateTime,
            folded: None,
        },
        Field {
            key: "last_accessed_at",
            kind: Kind::DateTime,
            folded: None,
        },
    ],
    keyword_fields: &["user_id", "name", "email"],
    tiebreak: "user_id",
    minimal_fields: &["user_id", "name", "state"],
};

/// The role types that make a binding a membership.
const MEMBER_ROLES: [&str; 2] = ["WORKSPACE_OWNER", "WORKSPACE_MEMBER"];

/// The user columns of the base relation, named as the user's fields, and their folded
/// forms (`query::fold_text`, the last `FOLDED_COLUMNS`), which no allow-list names as keys.
const USER_COLUMNS: [&str; 17] = [
    "domain_id",
    "user_id",
    "name",
    "state",
    "email",
    "email_verified",
    "auth_type",
    "language",
    "timezone",
    "tags",
    "required_actions",
    "created_at",
    "last_accessed_at",
    "user_id_folded",
    "name_folded",
    "email_folded",
    "tags_folded",
];

/// How many of `USER_COLUMNS`, at the end, are folded forms. Only a query that matches text
/// (conditions or a keyword) reads them; a plain page leaves them out of the relation, which
/// SQLite would otherwise carry through the union of its two arms for every member.
const FOLDED_COLUMNS: usize = 4;

/// Which columns the base relation carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Columns {
    /// The user's fields only.
    Plain,
    /// The fields and their folded forms, for conditions and keywords.
    WithFolded,
}

impl Columns {
    /// What `search` needs.
    fn for_search(search: &Search) -> Self {
        if search.filter.is_empty() && search.filter_or.is_empty() && search.keyword.is_none() {
            Self::Plain
        } else {
            Self::WithFolded
        }
    }

    fn user_columns(self) -> &'static [&'static str] {
        match self {
            Self::Plain => &USER_COLUMNS[..USER_COLUMNS.len() - FOLDED_COLUMNS],
            Self::WithFolded => &USER_COLUMNS,
        }
    }
}

/// The binding columns of the base relation, outside the query's reach (`rb_` names are in
/// no allow-list).
const BINDING_COLUMNS: [(&str, &str); 6] = [
    ("role_binding_id", "rb_role_binding_id"),
    ("role_id", "rb_role_id"),
    ("role_type", "rb_role_type"),
    ("workspace_id", "rb_workspace_id"),
    ("workspace_group_id", "rb_workspace_group_id"),
    ("created_at", "rb_created_at"),
];

/// The members of a workspace that `search` selects, and the fields to return (`None`:
/// all).
#[instrument(skip(db, filter, search))]
pub async fn list(
    db: &impl Executor,
    domain_id: &DomainId,
    workspace_id: &WorkspaceId,
    filter: &MemberFilter,
    search: &Search,
) -> Result<Listing<Member>> {
    let compiled = query::compile_search(
        &RESOURCE,
        base(
            engine(db),
            domain_id,
            workspace_id,
            filter,
            Columns::for_search(search),
        ),
        search,
        engine(db),
    )?;
    let total_count = if compiled.filtered || !filter.is_empty() {
        count(db, &compiled.count).await?
    } else {
        member_count(db, domain_id, workspace_id).await?
    };
    let results = if compiled.count_only {
        Vec::new()
    } else {
        rows(db, &compiled.rows)
            .await?
            .iter()
            .map(member_from_row)
            .collect::<Result<_>>()?
    };
    Ok(Listing {
        results,
        total_count,
        only: compiled.only,
    })
}

/// One member of a workspace, if `user_id` is one.
#[instrument(skip(db))]
pub async fn get(
    db: &impl Executor,
    domain_id: &DomainId,
    workspace_id: &WorkspaceId,
    user_id: &UserId,
) -> Result<Option<Member>> {
    let filter = MemberFilter {
        user_id: Some(user_id.clone()),
        ..MemberFilter::default()
    };
    let statement = base(engine(db), domain_id, workspace_id, &filter, Columns::Plain);
    let found = rows(db, &statement).await?;
    found.first().map(member_from_row).transpose()
}

/// The binding that makes `user_id` a member of the workspace, if any.
#[instrument(skip(db))]
pub async fn binding_of(
    db: &impl Executor,
    domain_id: &DomainId,
    workspace_id: &WorkspaceId,
    user_id: &UserId,
) -> Result<Option<RoleBinding>> {
    Ok(get(db, domain_id, workspace_id, user_id)
        .await?
        .map(|member| member.binding))
}

/// The results of a statistics query over a workspace's members: one JSON value per row,
/// and with a page the count of every result before paging.
#[instrument(skip(db, stat))]
pub async fn stat(
    db: &impl Executor,
    domain_id: &DomainId,
    workspace_id: &WorkspaceId,
    stat: &Stat,
) -> Result<(Vec<serde_json::Value>, Option<u64>)> {
    let compiled = query::compile_stat(
        &RESOURCE,
        base(
            engine(db),
            domain_id,
            workspace_id,
            &MemberFilter::default(),
            Columns::WithFolded,
        ),
        stat,
        engine(db),
    )?;
    let mut results = Vec::new();
    for row in rows(db, &compiled.rows).await? {
        let text: String = row.try_get("", "row")?;
        let value = serde_json::from_str(&text)
            .map_err(|err| Error::internal(format!("a statistics row is not JSON: {err}")))?;
        results.push(value);
    }
    if compiled.count.is_none() && results.len() as u64 > query::MAX_STAT_ROWS {
        return Err(Error::invalid(
            "query.aggregate",
            format!(
                "more than {} results: add a page or a limit stage",
                query::MAX_STAT_ROWS
            ),
        ));
    }
    let total_count = match &compiled.count {
        Some(statement) => Some(count(db, statement).await?),
        None => None,
    };
    Ok((results, total_count))
}

/// How `find` pages: rows skipped and rows returned.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// Rows skipped.
    pub offset: u64,
    /// Most rows returned.
    pub limit: u64,
}

/// Users of the domain who are not members of the workspace, whose `user_id` or `name`
/// contains `keyword` (under the query language's folding, `query::fold_text`; `%` and `_`
/// match themselves), in `user_id` order.
#[instrument(skip(db))]
pub async fn find_outside(
    db: &impl Executor,
    domain_id: &DomainId,
    workspace_id: &WorkspaceId,
    filter: &FindFilter,
    window: Window,
) -> Result<Listing<UserSummary>> {
    let u = Alias::new("u");
    let b = Alias::new("b");
    let mut membership = Query::select();
    membership
        .expr(Expr::val(1))
        .from_as(Alias::new("role_bindings"), b.clone())
        .and_where(
            Expr::col((b.clone(), Alias::new("domain_id")))
                .equals((u.clone(), Alias::new("domain_id"))),
        )
        .and_where(
            Expr::col((b.clone(), Alias::new("user_id")))
                .equals((u.clone(), Alias::new("user_id"))),
        )
        .and_where(
            Expr::col((b.clone(), Alias::new("workspace_id")))
                .is_in([workspace_id.as_str(), WORKSPACE_WILDCARD]),
        )
        .and_where(Expr::col((b, Alias::new("role_type"))).is_in(MEMBER_ROLES));
    let mut matching = Query::select();
    matching
        .from_as(Alias::new("users"), u.clone())
        .and_where(Expr::col((u.clone(), Alias::new("domain_id"))).eq(domain_id))
        .and_where(Expr::exists(membership).not());
    let FindFilter {
        keyword,
        state,
        auth_type,
    } = filter;
    if let Some(state) = state {
        matching.and_where(Expr::col((u.clone(), Alias::new("state"))).eq(state.as_str()));
    }
    if let Some(auth_type) = auth_type {
        matching.and_where(Expr::col((u.clone(), Alias::new("auth_type"))).eq(auth_type.as_str()));
    }
    if let Some(keyword) = keyword.as_deref().filter(|k| !k.is_empty()) {
        matching.cond_where(holds_keyword(&u, keyword));
    }
    let mut counting = matching.clone();
    counting.expr_as(Expr::cust("COUNT(*)"), Alias::new("count"));
    let total_count = count(db, &counting).await?;
    let mut page = matching;
    page.columns([
        (u.clone(), Alias::new("user_id")),
        (u.clone(), Alias::new("name")),
        (u.clone(), Alias::new("state")),
        (u.clone(), Alias::new("auth_type")),
    ])
    .order_by((u, Alias::new("user_id")), sea_orm::sea_query::Order::Asc)
    .limit(window.limit)
    .offset(window.offset);
    let results = rows(db, &page)
        .await?
        .iter()
        .map(|row| {
            Ok(UserSummary {
                user_id: row.try_get("", "user_id")?,
                name: Name::from_stored(row.try_get("", "name")?),
                state: row.try_get("", "state")?,
                auth_type: row.try_get("", "auth_type")?,
            })
        })
        .collect::<Result<_>>()?;
    Ok(Listing {
        results,
        total_count,
        only: None,
    })
}

/// Whether the `user_id` or `name` of the user row aliased `users` holds `keyword`: its
/// folded form looked for in the folded columns with LIKE, which PostgreSQL's trigram
/// indexes answer. Folded text has no upper-case ASCII letter, so SQLite's LIKE, blind to
/// ASCII case, tests the same thing.
fn holds_keyword(users: &Alias, keyword: &str) -> Cond {
    let pattern = format!("%{}%", escape_like(&query::fold_text(keyword)));
    let mut any = Cond::any();
    for column in ["user_id_folded", "name_folded"] {
        any = any.add(
            Expr::col((users.clone(), Alias::new(column)))
                .like(LikeExpr::new(pattern.clone()).escape('\\')),
        );
    }
    any
}

/// The members of a workspace, as the database keeps count of them (no scan).
#[instrument(skip(db))]
pub async fn member_count(
    db: &impl Executor,
    domain_id: &DomainId,
    workspace_id: &WorkspaceId,
) -> Result<u64> {
    let mut statement = Query::select();
    statement
        .expr_as(
            Expr::col((Alias::new("w"), Alias::new("member_count"))).add(Expr::col((
                Alias::new("d"),
                Alias::new("shared_member_count"),
            ))),
            Alias::new("count"),
        )
        .from_as(Alias::new("workspaces"), Alias::new("w"))
        .join_as(
            JoinType::InnerJoin,
            Alias::new("domains"),
            Alias::new("d"),
            Expr::col((Alias::new("d"), Alias::new("domain_id")))
                .equals((Alias::new("w"), Alias::new("domain_id"))),
        )
        .and_where(Expr::col((Alias::new("w"), Alias::new("domain_id"))).eq(domain_id))
        .and_where(Expr::col((Alias::new("w"), Alias::new("workspace_id"))).eq(workspace_id));
    count(db, &statement).await
}

/// The base relation: the workspace's membership bindings and the domain's `*` ones, each
/// with its user, narrowed by the request's plain fields. SQLite reads it as two arms, each
/// in `user_id` order off `ix_role_bindings_members`, merged; PostgreSQL as one scan of
/// `ix_role_bindings_members_c` in `user_id` order, keeping both kinds of binding.
fn base(
    engine: Engine,
    domain_id: &DomainId,
    workspace_id: &WorkspaceId,
    filter: &MemberFilter,
    columns: Columns,
) -> SelectStatement {
    match engine {
        Engine::Sqlite => {
            let mut statement = arm(domain_id, &[workspace_id.as_str()], filter, columns);
            statement.union(
                UnionType::All,
                arm(domain_id, &[WORKSPACE_WILDCARD], filter, columns),
            );
            statement
        }
        Engine::Postgres => arm(
            domain_id,
            &[workspace_id.as_str(), WORKSPACE_WILDCARD],
            filter,
            columns,
        ),
    }
}

fn arm(
    domain_id: &DomainId,
    workspace_ids: &[&str],
    filter: &MemberFilter,
    columns: Columns,
) -> SelectStatement {
    let (u, b, d) = (Alias::new("u"), Alias::new("b"), Alias::new("d"));
    let col = |table: &Alias, column: &str| Expr::col((table.clone(), Alias::new(column)));
    let mut select = Query::select();
    for &column in columns.user_columns() {
        // The keys the join matches on come from the binding, so both engines read the
        // bindings in `user_id` order off their index, without sorting.
        let table = if matches!(column, "domain_id" | "user_id") {
            &b
        } else {
            &u
        };
        select.expr_as(col(table, column), Alias::new(column));
    }
    select.expr_as(
        Expr::case(col(&d, "role_binding_id").is_null(), "USER").finally("DOMAIN_ADMIN"),
        Alias::new("role_type"),
    );
    for (column, name) in BINDING_COLUMNS {
        select.expr_as(col(&b, column), Alias::new(name));
    }
    select
        .from_as(Alias::new("role_bindings"), b.clone())
        .join_as(
            JoinType::InnerJoin,
            Alias::new("users"),
            u.clone(),
            Cond::all()
                .add(col(&u, "domain_id").equals((b.clone(), Alias::new("domain_id"))))
                .add(col(&u, "user_id").equals((b.clone(), Alias::new("user_id")))),
        )
        // At most one row: a user has one binding per place (`ux_role_bindings_user_workspace`).
        .join_as(
            JoinType::LeftJoin,
            Alias::new("role_bindings"),
            d.clone(),
            Cond::all()
                .add(col(&d, "domain_id").equals((u.clone(), Alias::new("domain_id"))))
                .add(col(&d, "user_id").equals((u.clone(), Alias::new("user_id"))))
                .add(col(&d, "workspace_id").eq(WORKSPACE_WILDCARD))
                .add(col(&d, "role_type").eq(RoleType::DomainAdmin.as_str())),
        )
        .and_where(col(&b, "domain_id").eq(domain_id));
    match workspace_ids {
        [one] => select.and_where(col(&b, "workspace_id").eq(*one)),
        many => select.and_where(col(&b, "workspace_id").is_in(many.iter().copied())),
    };
    match filter.role_type {
        Some(role_type) => select.and_where(col(&b, "role_type").eq(role_type.as_str())),
        None => select.and_where(col(&b, "role_type").is_in(MEMBER_ROLES)),
    };
    if let Some(user_id) = &filter.user_id {
        select.and_where(col(&b, "user_id").eq(user_id.as_str()));
    }
    if let Some(name) = &filter.name {
        select.and_where(col(&u, "name").eq(name.as_str()));
    }
    if let Some(state) = filter.state {
        select.and_where(col(&u, "state").eq(state.as_str()));
    }
    if let Some(email) = &filter.email {
        select.and_where(col(&u, "email").eq(email.as_str()));
    }
    if let Some(auth_type) = filter.auth_type {
        select.and_where(col(&u, "auth_type").eq(auth_type.as_str()));
    }
    select
}

fn member_from_row(row: &QueryResult) -> Result<Member> {
    let text = |column: &str| -> Result<String> { Ok(row.try_get("", column)?) };
    let email = text("email")?;
    let user = UserView {
        domain_id: row.try_get("", "domain_id")?,
        user_id: row.try_get("", "user_id")?,
        name: Name::from_stored(text("name")?),
        state: row.try_get("", "state")?,
        email: (!email.is_empty()).then(|| Email::from_stored(email)),
        email_verified: row.try_get("", "email_verified")?,
        auth_type: row.try_get("", "auth_type")?,
        domain_admin: text("role_type")? == "DOMAIN_ADMIN",
        language: Language::from_stored(text("language")?),
        timezone: Timezone::from_stored(text("timezone")?),
        tags: Tags::from_json(row.try_get("", "tags")?),
        created_at: row.try_get("", "created_at")?,
        last_accessed_at: row.try_get("", "last_accessed_at")?,
    };
    let binding = RoleBinding {
        role_binding_id: row.try_get("", "rb_role_binding_id")?,
        domain_id: user.domain_id.clone(),
        user_id: user.user_id.clone(),
        role_id: row.try_get("", "rb_role_id")?,
        role_type: row.try_get("", "rb_role_type")?,
        resource_group: ResourceGroup::Workspace,
        workspace_id: row.try_get("", "rb_workspace_id")?,
        workspace_group_id: row.try_get("", "rb_workspace_group_id")?,
        created_at: row.try_get("", "rb_created_at")?,
    };
    Ok(Member { user, binding })
}

fn engine(db: &impl Executor) -> Engine {
    match conn(db).get_database_backend() {
        DatabaseBackend::Postgres => Engine::Postgres,
        _ => Engine::Sqlite,
    }
}

async fn rows(db: &impl Executor, statement: &SelectStatement) -> Result<Vec<QueryResult>> {
    let connection = conn(db);
    let built = connection.get_database_backend().build(statement);
    Ok(connection.query_all(built).await?)
}

async fn count(db: &impl Executor, statement: &SelectStatement) -> Result<u64> {
    let found = rows(db, statement).await?;
    let count: i64 = match found.first() {
        Some(row) => row.try_get("", "count")?,
        None => 0,
    };
    Ok(u64::try_from(count).unwrap_or(0))
}

/// `text` for a LIKE pattern with `\` as the escape: `%`, `_` and `\` match themselves.
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}
