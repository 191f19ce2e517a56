// Package cef parses ArcSight Common Event Format lines:
//
//	CEF:Version|Device Vendor|Device Product|Device Version|Signature ID|Name|Severity|Extension
//
// possibly after a syslog header (anything before the first "CEF:" is skipped). In the header
// a pipe or a backslash is escaped with a backslash (\| \\); in extension values an equals
// sign, a backslash and line breaks are (\= \\ \n \r).
//
// The parser is strict where a mistake would change meaning and lenient where producers are
// known to be sloppy: a backslash before any other character is kept as written (Windows paths
// are often not escaped), an equals sign that does not follow a space-separated key (the query
// of a URL) belongs to the value, and a missing final pipe before an empty extension is
// accepted. Text before the first key of the extension, a non-numeric version or fewer than
// seven header fields are errors.
package cef
