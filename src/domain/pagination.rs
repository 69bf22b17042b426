//! Laravel's length-aware paginator arithmetic and its `links` window
//! (`Illuminate\Pagination\UrlWindow` with `onEachSide = 3`).

use super::params::Param;
use super::validation::{FieldErrors, must_be_integer, parse_int};

/// Which page of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageQuery {
    /// 1-based; may lie past the last page.
    pub page: u64,
    /// 1 to 100.
    pub per_page: u64,
}

impl PageQuery {
    /// Rows to skip; saturates instead of overflowing on absurd pages.
    pub fn offset(self) -> u64 {
        (self.page - 1).saturating_mul(self.per_page)
    }
}

/// Parses `per_page` (1 to 100), shared by every paginated list.
pub fn parse_per_page(
    pairs: &[(String, String)],
    default_per_page: u64,
    errors: &mut FieldErrors,
) -> u64 {
    match Param::of(pairs, "per_page") {
        Param::Absent => default_per_page,
        Param::Array => {
            errors.add("per_page", must_be_integer("per_page"));
            default_per_page
        }
        Param::Value(text) => match parse_int(&text) {
            None => {
                errors.add("per_page", must_be_integer("per_page"));
                default_per_page
            }
            Some(n) if n < 1 => {
                errors.add("per_page", "The per page field must be at least 1.");
                default_per_page
            }
            Some(n) if n > 100 => {
                errors.add(
                    "per_page",
                    "The per page field must not be greater than 100.",
                );
                default_per_page
            }
            Some(n) => n.unsigned_abs(),
        },
    }
}

/// Parses `page` and `per_page`, shared by every paginated list.
pub fn parse_page_query(
    pairs: &[(String, String)],
    default_per_page: u64,
    errors: &mut FieldErrors,
) -> PageQuery {
    let per_page = parse_per_page(pairs, default_per_page, errors);
    // Laravel's paginator reads anything that is not an integer >= 1 as page 1.
    let page = match Param::of(pairs, "page") {
        Param::Value(text) => parse_int(&text)
            .filter(|p| *p >= 1)
            .map_or(1, i64::unsigned_abs),
        _ => 1,
    };
    PageQuery { page, per_page }
}

/// Pages on each side of the current one in the window.
const ON_EACH_SIDE: u64 = 3;

/// The numbers a page of a list is described by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageMeta {
    pub current_page: u64,
    pub per_page: u64,
    pub total: u64,
    /// Rows on this page.
    pub count: u64,
}

/// One entry between « Previous and Next » in `links`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowItem {
    Page(u64),
    Gap,
}

impl PageMeta {
    pub fn new(query: PageQuery, total: u64, count: u64) -> Self {
        Self {
            current_page: query.page,
            per_page: query.per_page,
            total,
            count,
        }
    }

    /// `max(1, ceil(total / per_page))`.
    pub fn last_page(&self) -> u64 {
        self.total.div_ceil(self.per_page).max(1)
    }

    /// 1-based positions of the first and last row shown; `None` on an empty page.
    pub fn from_to(&self) -> Option<(u64, u64)> {
        if self.count == 0 {
            return None;
        }
        let from = (self.current_page - 1)
            .saturating_mul(self.per_page)
            .saturating_add(1);
        Some((from, from + self.count - 1))
    }

    pub fn prev_page(&self) -> Option<u64> {
        (self.current_page > 1).then(|| self.current_page - 1)
    }

    pub fn next_page(&self) -> Option<u64> {
        (self.current_page < self.last_page()).then(|| self.current_page + 1)
    }

    /// The page numbers and gaps Laravel lists in `links`.
    pub fn window(&self) -> Vec<WindowItem> {
        let last = self.last_page();
        let current = self.current_page;
        let pages = |from: u64, to: u64| (from..=to).map(WindowItem::Page);
        // Fewer than 14 pages: list them all.
        if last < ON_EACH_SIDE * 2 + 8 {
            return pages(1, last).collect();
        }
        let window = ON_EACH_SIDE + 4;
        let mut items = Vec::with_capacity(17);
        if current <= window {
            items.extend(pages(1, window + ON_EACH_SIDE));
            items.push(WindowItem::Gap);
            items.extend(pages(last - 1, last));
        } else if current > last - window {
            items.extend(pages(1, 2));
            items.push(WindowItem::Gap);
            items.extend(pages(last - (window + ON_EACH_SIDE - 1), last));
        } else {
            items.extend(pages(1, 2));
            items.push(WindowItem::Gap);
            items.extend(pages(current - ON_EACH_SIDE, current + ON_EACH_SIDE));
            items.push(WindowItem::Gap);
            items.extend(pages(last - 1, last));
        }
        items
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use WindowItem::{Gap, Page};

    fn meta(page: u64, total: u64) -> PageMeta {
        PageMeta::new(PageQuery { page, per_page: 10 }, total, 0)
    }

    fn pages(items: &[WindowItem]) -> String {
        items
            .iter()
            .map(|i| match i {
                Page(n) => n.to_string(),
                Gap => "...".to_owned(),
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    #[test]
    fn small_lists_show_every_page() {
        assert_eq!(pages(&meta(1, 0).window()), "1");
        assert_eq!(
            pages(&meta(5, 130).window()),
            "1,2,3,4,5,6,7,8,9,10,11,12,13"
        );
    }

    #[test]
    fn long_lists_slide() {
        assert_eq!(
            pages(&meta(7, 200).window()),
            "1,2,3,4,5,6,7,8,9,10,...,19,20"
        );
        assert_eq!(
            pages(&meta(8, 200).window()),
            "1,2,...,5,6,7,8,9,10,11,...,19,20"
        );
        assert_eq!(
            pages(&meta(13, 200).window()),
            "1,2,...,10,11,12,13,14,15,16,...,19,20"
        );
        assert_eq!(
            pages(&meta(14, 200).window()),
            "1,2,...,11,12,13,14,15,16,17,18,19,20"
        );
        assert_eq!(
            pages(&meta(99, 200).window()),
            "1,2,...,11,12,13,14,15,16,17,18,19,20"
        );
    }

    #[test]
    fn counts() {
        let m = PageMeta::new(
            PageQuery {
                page: 2,
                per_page: 15,
            },
            100,
            15,
        );
        assert_eq!(
            (m.last_page(), m.from_to(), m.prev_page(), m.next_page()),
            (7, Some((16, 30)), Some(1), Some(3))
        );
        let past = PageMeta::new(
            PageQuery {
                page: 9,
                per_page: 15,
            },
            100,
            0,
        );
        assert_eq!(
            (past.from_to(), past.prev_page(), past.next_page()),
            (None, Some(8), None)
        );
    }
}
