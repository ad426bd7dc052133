//! The header row of a roster: which of the known columns (docs/reference/sync.md#roster-csv) is at
//! which position, each found by its own name or by the header `[roster.columns]` maps it to
//! (docs/reference/sync.md#roster-mapping).

use csv::ByteRecord;

use super::mapping::RosterFormat;
use super::{MAX_FIELD_BYTES, RosterProblem};

/// A column the roster format gives a meaning to; any other column is ignored.
///
/// The declaration order is the order of [`Column::ALL`], so `column as usize` indexes arrays
/// laid out like it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Column {
    Email,
    Name,
    OrgRole,
    EmployeeId,
    Status,
    StartDate,
    EndDate,
}

impl Column {
    pub(super) const ALL: [Column; 7] = [
        Column::Email,
        Column::Name,
        Column::OrgRole,
        Column::EmployeeId,
        Column::Status,
        Column::StartDate,
        Column::EndDate,
    ];

    /// The columns without which no row can be read.
    const REQUIRED: [Column; 2] = [Column::Email, Column::OrgRole];

    /// The column's name in a header, in lower case.
    pub(super) fn name(self) -> &'static str {
        match self {
            Column::Email => "email",
            Column::Name => "name",
            Column::OrgRole => "org_role",
            Column::EmployeeId => "employee_id",
            Column::Status => "status",
            Column::StartDate => "start_date",
            Column::EndDate => "end_date",
        }
    }
}

/// Where the known columns are, read from the header row.
#[derive(Debug)]
pub(super) struct Columns {
    /// The position of each column of [`Column::ALL`], in that order.
    positions: [Option<usize>; Column::ALL.len()],
    /// Every header cell as written (trimmed), so that a problem in any column, known or not,
    /// can name it.
    names: Vec<String>,
}

impl Columns {
    /// Reads the header row found at `line`, adding a problem for each cell that cannot be read,
    /// each known column named twice, each required column missing and each mapped column
    /// missing. The columns that could be placed are returned regardless, so that the rows can
    /// still be checked.
    pub(super) fn read(
        header: &ByteRecord,
        line: u64,
        format: &RosterFormat,
        problems: &mut Vec<RosterProblem>,
    ) -> Self {
        let mut columns = Columns {
            positions: [None; Column::ALL.len()],
            names: Vec::with_capacity(header.len()),
        };
        for (position, cell) in header.iter().enumerate() {
            let name = String::from_utf8_lossy(cell).trim().to_owned();
            if cell.len() > MAX_FIELD_BYTES {
                problems.push(RosterProblem::field_too_long(line, None, cell.len()));
            } else if std::str::from_utf8(cell).is_err() {
                problems.push(RosterProblem::new(
                    line,
                    None,
                    format!("header cell {} is not valid UTF-8", position + 1),
                ));
            } else if let Some(column) = Column::ALL
                .into_iter()
                .find(|column| format.header(*column).eq_ignore_ascii_case(&name))
            {
                match columns.positions[column as usize] {
                    Some(first) => problems.push(RosterProblem::new(
                        line,
                        Some(column.name()),
                        format!(
                            "the header names this column twice (cells {} and {})",
                            first + 1,
                            position + 1
                        ),
                    )),
                    None => columns.positions[column as usize] = Some(position),
                }
            }
            columns.names.push(name);
        }
        for column in Column::ALL {
            if columns.position(column).is_some() {
                continue;
            }
            // A mapping says the export has the column, so its absence is a mistake in the
            // mapping or the export, whether or not the column is required.
            let reason = if format.is_mapped(column) {
                format!(
                    "the header has no `{}` column, which `[roster.columns]` maps `{}` to",
                    format.header(column),
                    column.name()
                )
            } else if Column::REQUIRED.contains(&column) {
                "the header has no such column, and it is required".to_owned()
            } else {
                continue;
            };
            problems.push(RosterProblem::new(line, Some(column.name()), reason));
        }
        columns
    }

    /// Where `column` is in a row, if the header has it.
    pub(super) fn position(&self, column: Column) -> Option<usize> {
        self.positions[column as usize]
    }

    /// How many fields every row must have.
    pub(super) fn width(&self) -> usize {
        self.names.len()
    }

    /// The name of the header cell at `position` (below [`Columns::width`]), as written.
    pub(super) fn name_at(&self, position: usize) -> &str {
        &self.names[position]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_in_declaration_order() {
        for (index, column) in Column::ALL.into_iter().enumerate() {
            assert_eq!(column as usize, index, "{column:?}");
        }
    }
}
