use super::count::{DaySplit, split_days};
use super::*;
use crate::domain::CallStatus;
use crate::domain::cursor::SortKey;
use crate::domain::listing::{Sort, Window};
use crate::store::counts::DAY;

const SUM: &str = "SELECT CAST(coalesce(sum(n), 0) AS BIGINT)";

fn texts(parts: &[CountPart]) -> Vec<(i64, String)> {
    parts.iter().map(|p| (p.sign, p.sql.text.clone())).collect()
}

#[test]
fn totals_come_from_the_smallest_rollup() {
    let style = Placeholder::Question;
    let plan = |f: &CallFilter| texts(&count_plan(1, f, None, None, style));
    assert_eq!(
        plan(&CallFilter::default()),
        [(1, format!("{SUM} FROM call_user_totals WHERE user_id = ?1"))]
    );
    let completed = CallFilter {
        status: Some(vec![CallStatus::Completed]),
        ..CallFilter::default()
    };
    assert_eq!(
        plan(&completed),
        [(
            1,
            format!("{SUM} FROM call_totals WHERE user_id = ?1 AND status = ?2")
        )]
    );
    let two = CallFilter {
        status: Some(vec![CallStatus::Completed, CallStatus::Failed]),
        ..CallFilter::default()
    };
    assert_eq!(
        plan(&two),
        [(
            1,
            format!("{SUM} FROM call_totals WHERE user_id = ?1 AND status IN (?2, ?3)")
        )]
    );
    let dated = CallFilter {
        created_from: Some(86_400),
        ..CallFilter::default()
    };
    assert_eq!(
        plan(&dated),
        [(
            1,
            format!("{SUM} FROM call_days WHERE user_id = ?1 AND day >= ?2")
        )]
    );
    let both = CallFilter {
        status: Some(vec![CallStatus::Busy]),
        created_to: Some(86_399),
        ..CallFilter::default()
    };
    let q = count_plan(1, &both, None, None, Placeholder::Dollar);
    assert_eq!(
        q[0].sql.text,
        format!(
            "{SUM} FROM call_counts WHERE user_id = $1::bigint AND status = $2::bigint AND day <= $3::bigint"
        )
    );
    assert_eq!(
        q[0].sql.values,
        [SqlValue::Int(1), SqlValue::Int(3), SqlValue::Int(0)]
    );
    let phone = CallFilter {
        phone_number: Some("+49".into()),
        ..CallFilter::default()
    };
    assert!(
        plan(&phone)[0]
            .1
            .starts_with("SELECT count(*) FROM calls WHERE")
    );
}

#[test]
fn partial_days_are_counted_the_shorter_way() {
    let d = 19_737; // 2024-01-15
    let at = |day: i64, hour: i64| day * DAY + hour * 3600;
    // A Berlin day in winter: 23:00 the day before to 22:59:59.
    let split = split_days(Span {
        from: Some(at(d - 1, 23)),
        to: Some(at(d, 23) - 1),
    });
    assert_eq!(
        split,
        DaySplit {
            days: Some((d, d)),
            edges: vec![
                (
                    1,
                    Span {
                        from: Some(at(d - 1, 23)),
                        to: Some(at(d, 0) - 1)
                    }
                ),
                (
                    -1,
                    Span {
                        from: Some(at(d, 23)),
                        to: Some(at(d + 1, 0) - 1)
                    }
                ),
            ],
        }
    );
    // Whole UTC days need no rows.
    assert_eq!(
        split_days(Span {
            from: Some(at(d, 0)),
            to: Some(at(d + 3, 0) - 1)
        }),
        DaySplit {
            days: Some((d, d + 2)),
            edges: vec![]
        }
    );
    // A few hours inside one day: its rows.
    let inside = Span {
        from: Some(at(d, 2)),
        to: Some(at(d, 5)),
    };
    assert_eq!(
        split_days(inside),
        DaySplit {
            days: Some((0, -1)),
            edges: vec![(1, inside)]
        }
    );
    // Open ends.
    assert_eq!(
        split_days(Span {
            from: Some(at(d, 20)),
            to: None
        }),
        DaySplit {
            days: Some((d + 1, i64::MAX)),
            edges: vec![(
                1,
                Span {
                    from: Some(at(d, 20)),
                    to: Some(at(d + 1, 0) - 1)
                }
            )],
        }
    );
    assert_eq!(
        split_days(Span::default()),
        DaySplit {
            days: None,
            edges: vec![]
        }
    );
}

#[test]
fn a_plain_page_reads_the_index_alone() {
    let filter = CallFilter::default();
    let read = PageRead {
        user_id: 1,
        filter: &filter,
        sort: Sort::CreatedDesc,
        window: Window::Offset {
            offset: 30,
            limit: 15,
        },
        start: Start::default(),
        search: None,
        bounded: true,
    };
    let plan = page_plan(read, "rowid AS r", "page", Placeholder::Question);
    assert_eq!(
        plan.inner.text,
        "SELECT rowid AS r, created_at AS k0, id AS i FROM calls WHERE user_id = ?1 ORDER BY created_at DESC, id DESC LIMIT CAST(?2 AS INTEGER) OFFSET ?3"
    );
    assert_eq!(plan.outer_order, "page.k0 DESC, page.i DESC");
}

#[test]
fn keysets_follow_the_sort() {
    let key = SortKey { value: None, id: 9 };
    let filter = CallFilter::default();
    let plan = |sort, forward| {
        let read = PageRead {
            user_id: 1,
            filter: &filter,
            sort,
            window: Window::Keyset {
                after: Some(key),
                forward,
                limit: 6,
            },
            start: Start::default(),
            search: None,
            bounded: true,
        };
        page_plan(read, "id", "p", Placeholder::Dollar)
    };
    let next = plan(Sort::CostDesc, true);
    assert!(next.inner.text.contains(
        "((CASE WHEN total_cost IS NULL THEN 0 ELSE 1 END), coalesce(total_cost, 0), id) < ($2::bigint, $3::bigint, $4::bigint)"
    ), "{}", next.inner.text);
    assert_eq!(
        &next.inner.values[1..4],
        [SqlValue::Int(0), SqlValue::Int(0), SqlValue::Int(9)]
    );
    let prev = plan(Sort::CostAsc, false);
    assert!(prev.inner.text.contains(") < ("), "{}", prev.inner.text);
    assert!(prev.inner.text.contains("ORDER BY (CASE WHEN total_cost IS NULL THEN 1 ELSE 0 END) DESC, coalesce(total_cost, 0) DESC, id DESC LIMIT $5::bigint"), "{}", prev.inner.text);
    assert_eq!(prev.outer_order, "p.k0, p.k1, p.i");
}

#[test]
fn pages_locate_their_day() {
    let days = [(30, 5), (29, 0), (28, 10), (27, 3)];
    assert_eq!(locate(&days, 0), Some(PageStart { day: 30, offset: 0 }));
    assert_eq!(locate(&days, 5), Some(PageStart { day: 28, offset: 0 }));
    assert_eq!(locate(&days, 17), Some(PageStart { day: 27, offset: 2 }));
    assert_eq!(locate(&days, 18), None);
}
