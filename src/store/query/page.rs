//! Pages: the statement that picks a page's rows in the list's order, by
//! offset, by a deep page's day, or after a cursor's key.

use crate::domain::CallFilter;
use crate::domain::cursor::SortKey;
use crate::domain::listing::{Sort, Window};

use super::super::counts::DAY;
use super::*;

/// The sort key columns of a list (then `id`), each with its direction.
fn sort_keys(sort: Sort, phone: bool) -> Vec<(&'static str, bool)> {
    let desc = sort.descending();
    let mut keys = Vec::new();
    match sort {
        Sort::CreatedDesc | Sort::CreatedAsc => {
            // With a phone filter the page comes from the phone index, one
            // period after the other; ordering by the period first (which
            // grows with `created_at`, so the order is the same) lets SQLite
            // read the periods in order instead of sorting what it found.
            if phone {
                keys.push((PHONE_PERIOD, desc));
            }
            keys.push(("created_at", desc));
        }
        Sort::DurationDesc | Sort::DurationAsc => keys.push(("duration", desc)),
        // Calls without a cost last in both directions: by these two keys,
        // which the indexes of migration 8 hold as they are written here.
        Sort::CostAsc => {
            keys.push((COST_NULLS_LAST_ASC, false));
            keys.push(("coalesce(total_cost, 0)", false));
        }
        Sort::CostDesc => {
            keys.push((COST_NULLS_LAST_DESC, true));
            keys.push(("coalesce(total_cost, 0)", true));
        }
    }
    keys.push(("id", desc));
    keys
}

const COST_NULLS_LAST_ASC: &str = "(CASE WHEN total_cost IS NULL THEN 1 ELSE 0 END)";
const COST_NULLS_LAST_DESC: &str = "(CASE WHEN total_cost IS NULL THEN 0 ELSE 1 END)";

/// The values of [`sort_keys`] for a row's key.
fn key_values(sort: Sort, phone: bool, key: SortKey) -> Vec<i64> {
    let value = key.value.unwrap_or(0);
    let mut out = Vec::new();
    match sort {
        Sort::CreatedDesc | Sort::CreatedAsc => {
            if phone {
                out.push((value + 62_167_219_200).div_euclid(2_592_000));
            }
            out.push(value);
        }
        Sort::DurationDesc | Sort::DurationAsc => out.push(value),
        Sort::CostAsc => {
            out.push(i64::from(key.value.is_none()));
            out.push(value);
        }
        Sort::CostDesc => {
            out.push(i64::from(key.value.is_some()));
            out.push(value);
        }
    }
    out.push(key.id);
    out
}

/// The statement that picks a page's rows: `SELECT {first}, k0, k1, ..., i
/// FROM calls WHERE ... ORDER BY ... LIMIT ...` (the sort keys as `k0`...,
/// the id as `i`), and the order to read its output in (`page.k0 DESC,
/// ...`). `first` is what each backend fetches the full row by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PagePlan {
    pub inner: Sql,
    /// `ORDER BY` over the inner statement's columns, prefixed by `alias.`.
    pub outer_order: String,
}

/// Where a page starts, beyond the window: a deep page's day.
#[derive(Debug, Clone, Copy, Default)]
pub struct Start {
    pub day: Option<i64>,
}

/// A page to read.
#[derive(Debug, Clone, Copy)]
pub struct PageRead<'a> {
    pub user_id: i64,
    pub filter: &'a CallFilter,
    pub sort: Sort,
    pub window: Window,
    pub start: Start,
    pub search: Option<&'a SearchCondition>,
    /// False: every row from the window's start on, in order (no `LIMIT`,
    /// no `OFFSET`), for a caller that picks the page's rows itself.
    pub bounded: bool,
}

impl<'a> PageRead<'a> {
    /// Every matching row in the list's order (an export).
    pub fn all(
        user_id: i64,
        filter: &'a CallFilter,
        sort: Sort,
        search: Option<&'a SearchCondition>,
    ) -> Self {
        Self {
            user_id,
            filter,
            sort,
            window: Window::Offset {
                offset: 0,
                limit: u64::MAX,
            },
            start: Start::default(),
            search,
            bounded: false,
        }
    }
}

/// [`page_plan`], with the statements of the default list (no filter, newest
/// first, by page number) written once per thread and reused: it is the
/// request Famulor's clients make most, and writing its SQL anew was ~5% of
/// it (callgrind, docs/PERFORMANCE.md). The same builder writes them.
pub fn page_plan(read: PageRead<'_>, first: &str, alias: &str, style: Placeholder) -> PagePlan {
    let Window::Offset { offset, limit } = read.window else {
        return build_page_plan(read, first, alias, style);
    };
    let plain = read.sort == Sort::CreatedDesc
        && read.start.day.is_none()
        && read.search.is_none()
        && read.bounded
        && *read.filter == CallFilter::default();
    if !plain {
        return build_page_plan(read, first, alias, style);
    }
    thread_local! {
        static PLAIN: std::cell::RefCell<Vec<(Placeholder, String, String, PagePlan)>> =
            const { std::cell::RefCell::new(Vec::new()) };
    }
    let values = vec![
        SqlValue::Int(read.user_id),
        SqlValue::Int(to_i64(limit)),
        SqlValue::Int(to_i64(offset)),
    ];
    PLAIN.with_borrow_mut(|cache| {
        let found = cache
            .iter()
            .find(|(s, f, a, _)| *s == style && f == first && a == alias)
            .map(|(_, _, _, plan)| plan);
        let plan = match found {
            Some(plan) => PagePlan {
                inner: Sql {
                    text: plan.inner.text.clone(),
                    values,
                },
                outer_order: plan.outer_order.clone(),
            },
            None => {
                let plan = build_page_plan(read, first, alias, style);
                cache.push((style, first.to_owned(), alias.to_owned(), plan.clone()));
                plan
            }
        };
        debug_assert_eq!(plan, build_page_plan(read, first, alias, style));
        plan
    })
}

fn build_page_plan(read: PageRead<'_>, first: &str, alias: &str, style: Placeholder) -> PagePlan {
    let PageRead {
        user_id,
        filter,
        sort,
        window,
        start,
        search,
        bounded,
    } = read;
    let phone = filter.phone_number.is_some();
    let keys = sort_keys(sort, phone);
    let mut conditions = Conditions::for_calls(user_id, filter, Span::of(filter), search, style);
    if let Some(day) = start.day {
        if sort.descending() {
            conditions.push(Part::compare(
                "created_at <=",
                SqlValue::Int(day * DAY + DAY - 1),
            ));
        } else {
            conditions.push(Part::compare("created_at >=", SqlValue::Int(day * DAY)));
        }
    }
    // Reading backwards (a previous page) runs the order the other way.
    let (forward, limit, offset) = match window {
        Window::Offset { offset, limit } => (true, limit, Some(offset)),
        Window::Keyset {
            after,
            forward,
            limit,
        } => {
            if let Some(key) = after {
                let columns: Vec<&str> = keys.iter().map(|(k, _)| *k).collect();
                let values = key_values(sort, phone, key);
                // After the key in the list's order: smaller in a descending list.
                let op = if sort.descending() == forward {
                    "<"
                } else {
                    ">"
                };
                let marks = vec![MARK.to_string(); values.len()].join(", ");
                conditions.push(Part::new(
                    format!("({}) {op} ({marks})", columns.join(", ")),
                    values.into_iter().map(SqlValue::Int).collect(),
                ));
            }
            (forward, limit, None)
        }
    };
    let order = |prefix: &str, forward: bool| {
        keys.iter()
            .enumerate()
            .map(|(i, (expr, desc))| {
                let mut column = String::new();
                if prefix.is_empty() {
                    column.push_str(expr);
                } else if i + 1 == keys.len() {
                    column.extend([prefix, ".i"]);
                } else {
                    column.extend([prefix, ".k", itoa::Buffer::new().format(i)]);
                }
                if *desc == forward {
                    column.push_str(" DESC");
                }
                column
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut select = vec![first.to_owned()];
    for (i, (expr, _)) in keys.iter().enumerate() {
        if i + 1 == keys.len() {
            select.push([expr, " AS i"].concat());
        } else {
            select.push([expr, " AS k", itoa::Buffer::new().format(i)].concat());
        }
    }
    let limit_mark = match style {
        // CAST: with a bare parameter as LIMIT, SQLite plans with its value and
        // recompiles the statement at every bind (seen as sqlite3Reprepare in
        // the profile, a fifth of a list request).
        Placeholder::Question => format!("CAST({MARK} AS INTEGER)"),
        Placeholder::Dollar => MARK.to_string(),
    };
    let mut tail_values = Vec::new();
    let mut tail = [" ORDER BY ", &order("", forward)].concat();
    if bounded {
        tail.push_str(" LIMIT ");
        tail.push_str(&limit_mark);
        tail_values.push(SqlValue::Int(to_i64(limit)));
        if let Some(offset) = offset {
            tail.push_str(" OFFSET ");
            tail.push(MARK);
            tail_values.push(SqlValue::Int(to_i64(offset)));
        }
    }
    let inner = conditions.statement(
        &select.join(", "),
        "calls",
        &Part::new(tail, tail_values),
        style,
    );
    PagePlan {
        inner,
        outer_order: order(alias, true),
    }
}
