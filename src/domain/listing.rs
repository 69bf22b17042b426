//! A `GET /api/user/calls` request whole: filters (see [`super::filter`]),
//! sort, the shape of the answer (`fields`, `facets`) and which page, by
//! number or by cursor (CONTRACT §3 and §8).

use super::call::CallView;
use super::cursor::{Cursor, SortKey, fingerprint};
use super::filter::{ARRAY_PARAMS, CallFilter, FILTER_PARAMS, parse_filter};
use super::pagination::{PageQuery, parse_page_query};
use super::params::{self, Param};
use super::validation::{FieldErrors, selected_invalid};
use super::zone::Zone;

/// The order of a list; ties go by `id` in the same direction, and calls
/// without a cost come after all others in both directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sort {
    CreatedDesc,
    CreatedAsc,
    DurationDesc,
    DurationAsc,
    CostDesc,
    CostAsc,
}

impl Sort {
    pub const ALL: [Self; 6] = [
        Self::CreatedDesc,
        Self::CreatedAsc,
        Self::DurationDesc,
        Self::DurationAsc,
        Self::CostDesc,
        Self::CostAsc,
    ];

    /// As the `sort` parameter spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CreatedDesc => "-created_at",
            Self::CreatedAsc => "created_at",
            Self::DurationDesc => "-duration",
            Self::DurationAsc => "duration",
            Self::CostDesc => "-total_cost",
            Self::CostAsc => "total_cost",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub fn descending(self) -> bool {
        matches!(
            self,
            Self::CreatedDesc | Self::DurationDesc | Self::CostDesc
        )
    }

    /// A call's place in a list of this order.
    pub fn key_of(self, call: &CallView<'_>) -> SortKey {
        let value = match self {
            Self::CreatedDesc | Self::CreatedAsc => Some(call.created_at),
            Self::DurationDesc | Self::DurationAsc => Some(call.duration),
            Self::CostDesc | Self::CostAsc => call.total_cost.map(|c| c.units()),
        };
        SortKey { value, id: call.id }
    }
}

/// The Call object's fields, in the contract's order (§2).
pub const CALL_FIELDS: [&str; 18] = [
    "id",
    "assistant_name",
    "campaign_name",
    "type",
    "duration",
    "assistant_phone_number",
    "client_phone_number",
    "status",
    "transcript",
    "variables",
    "evaluation",
    "webhook_response",
    "carrier_cost",
    "total_cost",
    "answered_by",
    "recording_url",
    "created_at",
    "updated_at",
];

/// A subset of [`CALL_FIELDS`], by position; `id` is always in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSet(u32);

impl FieldSet {
    pub const ALL: Self = Self((1 << CALL_FIELDS.len()) - 1);

    /// Whether field `i` of [`CALL_FIELDS`] is in.
    pub fn contains(self, i: usize) -> bool {
        self.0 & (1 << i) != 0
    }

    /// Whether the field named `name` (one of [`CALL_FIELDS`]) is in.
    pub fn has(self, name: &str) -> bool {
        CALL_FIELDS
            .iter()
            .position(|f| *f == name)
            .is_some_and(|i| self.0 & (1 << i) != 0)
    }

    /// `fields=id,status`; `None` when a name is not a field.
    fn parse(text: &str) -> Option<Self> {
        let mut set = 1; // id
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            set |= 1 << CALL_FIELDS.iter().position(|f| *f == name)?;
        }
        Some(Self(set))
    }
}

/// A dimension calls can be counted by (`facets`, and the stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Facet {
    Status,
    Type,
    AnsweredBy,
    AssistantId,
    CampaignId,
}

impl Facet {
    pub const ALL: [Self; 5] = [
        Self::Status,
        Self::Type,
        Self::AnsweredBy,
        Self::AssistantId,
        Self::CampaignId,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Status => "status",
            Self::Type => "type",
            Self::AnsweredBy => "answered_by",
            Self::AssistantId => "assistant_id",
            Self::CampaignId => "campaign_id",
        }
    }

    fn parse_list(text: &str) -> Option<Vec<Self>> {
        let mut out = Vec::new();
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let facet = Self::ALL.into_iter().find(|f| f.as_str() == name)?;
            if !out.contains(&facet) {
                out.push(facet);
            }
        }
        out.sort();
        Some(out)
    }
}

/// Which rows of the sorted list to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// `limit` rows after skipping `offset`.
    Offset { offset: u64, limit: u64 },
    /// Up to `limit` rows next to `after` (from the start when `None`):
    /// after it when `forward`, else the nearest ones before it. Either
    /// way in the list's order.
    Keyset {
        after: Option<SortKey>,
        forward: bool,
        limit: u64,
    },
}

/// Page by page number (Laravel's length-aware paginator) or by cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paging {
    Pages(PageQuery),
    Cursor {
        per_page: u64,
        cursor: Option<Cursor>,
    },
}

impl Paging {
    pub fn per_page(&self) -> u64 {
        match self {
            Self::Pages(p) => p.per_page,
            Self::Cursor { per_page, .. } => *per_page,
        }
    }

    /// The rows the store reads: one more than a page in cursor mode, to know
    /// whether there are more (as Laravel's cursor paginator does).
    pub fn window(&self) -> Window {
        match *self {
            Self::Pages(p) => Window::Offset {
                offset: p.offset(),
                limit: p.per_page,
            },
            Self::Cursor { per_page, cursor } => Window::Keyset {
                after: cursor.map(|c| c.key),
                forward: cursor.is_none_or(|c| c.forward),
                limit: per_page + 1,
            },
        }
    }
}

/// A validated `GET /api/user/calls` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallListQuery {
    pub filter: CallFilter,
    pub zone: Zone,
    pub sort: Sort,
    /// `None`: every field.
    pub fields: Option<FieldSet>,
    pub facets: Vec<Facet>,
    pub paging: Paging,
    /// The parameters as the client sent them, in their order, for the
    /// paginator's URLs.
    pub echo: Vec<(String, String)>,
    /// Binds this request's cursors to its filters and sort (cursor mode
    /// only: a hash per request is not free).
    pub fingerprint: String,
}

/// Parameters a cursor is not bound to: the shape and size of a page.
const UNBOUND: [&str; 5] = ["per_page", "fields", "facets", "paginate", "cursor"];

/// Validates a `GET /api/user/calls` query string given as decoded pairs.
pub fn parse_call_list(pairs: &[(String, String)]) -> Result<CallListQuery, FieldErrors> {
    let mut errors = FieldErrors::new();
    let (filter, zone) = parse_filter(pairs, &mut errors);
    let sort = match Param::of(pairs, "sort") {
        Param::Absent => Sort::CreatedDesc,
        Param::Value(text) => Sort::parse(&text).unwrap_or_else(|| {
            errors.add("sort", selected_invalid("sort"));
            Sort::CreatedDesc
        }),
        Param::Array => {
            errors.add("sort", selected_invalid("sort"));
            Sort::CreatedDesc
        }
    };
    let mut listed = |name: &str| match Param::of(pairs, name) {
        Param::Absent => None,
        Param::Value(text) => Some(Some(text)),
        Param::Array => {
            errors.add(name, selected_invalid(name));
            Some(None)
        }
    };
    let fields_text = listed("fields");
    let facets_text = listed("facets");
    let paginate = listed("paginate");
    let fields = match fields_text {
        None => None,
        Some(text) => match text.as_deref().and_then(FieldSet::parse) {
            Some(set) => Some(set),
            None => {
                if text.is_some() {
                    errors.add("fields", selected_invalid("fields"));
                }
                None
            }
        },
    };
    let facets = match facets_text {
        None => Vec::new(),
        Some(text) => text
            .as_deref()
            .and_then(Facet::parse_list)
            .unwrap_or_else(|| {
                if text.is_some() {
                    errors.add("facets", selected_invalid("facets"));
                }
                Vec::new()
            }),
    };
    let by_cursor = match paginate {
        None => false,
        Some(Some(text)) if text == "cursor" => true,
        Some(Some(_)) => {
            errors.add("paginate", selected_invalid("paginate"));
            false
        }
        Some(None) => false,
    };

    let mut names: Vec<&str> = FILTER_PARAMS.to_vec();
    names.extend(["fields", "facets", "paginate"]);
    let echo = params::echo(pairs, &names, &ARRAY_PARAMS);
    let page = parse_page_query(pairs, 15, &mut errors);
    let cursor_text = match Param::of(pairs, "cursor") {
        Param::Absent => None,
        Param::Value(text) => Some(Some(text)),
        Param::Array => Some(None),
    };
    let fingerprint = if by_cursor || cursor_text.is_some() {
        fingerprint(&echo, &UNBOUND)
    } else {
        String::new()
    };
    let paging = match cursor_text {
        None if !by_cursor => Paging::Pages(page),
        None => Paging::Cursor {
            per_page: page.per_page,
            cursor: None,
        },
        Some(text) => {
            let cursor = text
                .as_deref()
                .and_then(|t| Cursor::decode(t, sort, &fingerprint));
            if cursor.is_none() {
                errors.add("cursor", "The cursor is invalid.");
            }
            Paging::Cursor {
                per_page: page.per_page,
                cursor,
            }
        }
    };
    errors.into_result(CallListQuery {
        filter,
        zone,
        sort,
        fields,
        facets,
        paging,
        echo,
        fingerprint,
    })
}

impl CallListQuery {
    /// True when the request uses nothing of Part II: it is answered exactly
    /// as Part I says (and by Part I's fast paths).
    pub fn is_plain(&self) -> bool {
        matches!(self.paging, Paging::Pages(_))
            && self.sort == Sort::CreatedDesc
            && self.fields.is_none()
            && self.facets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CallType;

    fn pairs(query: &str) -> Vec<(String, String)> {
        form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect()
    }

    #[test]
    fn empty_values_count_as_absent_and_last_wins() {
        let q = parse_call_list(&pairs("status=&type=web&type=inbound&limit=5")).expect("valid");
        assert_eq!(q.filter.status, None);
        assert_eq!(q.filter.call_type, Some(vec![CallType::Inbound]));
        assert_eq!(q.echo, vec![("type".to_owned(), "inbound".to_owned())]);
        assert_eq!(
            q.paging,
            Paging::Pages(PageQuery {
                page: 1,
                per_page: 15
            })
        );
        assert!(q.is_plain());
    }

    #[test]
    fn errors_in_rule_order() {
        let err = parse_call_list(&pairs("per_page=0&status=nope&date_from=2024-13-01"))
            .expect_err("invalid");
        let fields: Vec<&str> = err.fields().iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["status", "date_from", "per_page"]);
        assert_eq!(
            err.summary(),
            "The selected status is invalid. (and 2 more errors)"
        );
    }

    #[test]
    fn pages_fall_back_to_one() {
        for bad in ["0", "-1", "abc", "1.5", "99999999999999999999"] {
            let q = parse_call_list(&pairs(&format!("page={bad}"))).expect("valid");
            assert_eq!(
                q.paging,
                Paging::Pages(PageQuery {
                    page: 1,
                    per_page: 15
                }),
                "{bad}"
            );
        }
    }

    #[test]
    fn shape_parameters() {
        let q = parse_call_list(&pairs(
            "fields=status,%20duration&facets=type,status,type&sort=-total_cost",
        ))
        .expect("valid");
        let fields = q.fields.expect("fields");
        assert!(fields.has("id") && fields.has("status") && fields.has("duration"));
        assert!(!fields.has("transcript"));
        assert_eq!(q.facets, [Facet::Status, Facet::Type]);
        assert_eq!(q.sort, Sort::CostDesc);
        assert!(!q.is_plain());
        let err = parse_call_list(&pairs(
            "fields=id,secret&facets=phone&sort=name&paginate=yes",
        ))
        .expect_err("invalid");
        assert_eq!(
            err.fields()
                .iter()
                .map(|(f, m)| format!("{f}: {}", m[0]))
                .collect::<Vec<_>>(),
            [
                "sort: The selected sort is invalid.",
                "fields: The selected fields is invalid.",
                "facets: The selected facets is invalid.",
                "paginate: The selected paginate is invalid.",
            ]
        );
    }

    #[test]
    fn cursors_are_bound_to_filters_and_sort() {
        let first =
            parse_call_list(&pairs("paginate=cursor&status=completed&per_page=5")).expect("valid");
        assert_eq!(
            first.paging,
            Paging::Cursor {
                per_page: 5,
                cursor: None
            }
        );
        let cursor = Cursor {
            key: SortKey {
                value: Some(100),
                id: 7,
            },
            forward: true,
        };
        let text = cursor.encode(Sort::CreatedDesc, &first.fingerprint);
        // Another page size and field list keep the cursor; other filters do not.
        let next = parse_call_list(&pairs(&format!(
            "status=completed&per_page=9&fields=id&cursor={text}"
        )))
        .expect("valid");
        assert_eq!(
            next.paging,
            Paging::Cursor {
                per_page: 9,
                cursor: Some(cursor)
            }
        );
        for other in [
            format!("status=failed&cursor={text}"),
            format!("status=completed&sort=created_at&cursor={text}"),
            "cursor=abc".to_owned(),
        ] {
            let err = parse_call_list(&pairs(&other)).expect_err("invalid");
            assert_eq!(err.summary(), "The cursor is invalid.", "{other}");
        }
    }
}
