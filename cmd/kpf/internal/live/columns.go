package live

import "slices"

// Columns, in display order.
const (
	colCursor = iota
	colName
	colLocal
	colTarget
	colPod
	colState
	colHealth
	colConn
	colTraffic
	colRestarts
	colUptime
	colError
	numCols
)

// column describes how a column behaves when the terminal is narrow:
// columns are shown in priority order (0 first) while their minimum width
// fits; the width left over widens them towards their content, in the same
// order, and the last error takes whatever remains.
type column struct {
	title    string
	priority int
	min, max int
}

var columns = [numCols]column{
	colCursor:   {title: "", priority: 0, min: 1, max: 1},
	colName:     {title: "NAME", priority: 0, min: 8, max: 32},
	colLocal:    {title: "LOCAL", priority: 2, min: 9, max: 30}, // "127.0.0.1:38081 (wants 38080)"
	colTarget:   {title: "TARGET", priority: 6, min: 10, max: 40},
	colPod:      {title: "POD", priority: 9, min: 8, max: 40},
	colState:    {title: "STATE", priority: 1, min: 10, max: 10},
	colHealth:   {title: "HEALTH", priority: 3, min: 7, max: 9},
	colConn:     {title: "CONN", priority: 7, min: 4, max: 6},
	colTraffic:  {title: "TRAFFIC", priority: 8, min: sparkWidth, max: sparkWidth + 1 + rateWidth},
	colRestarts: {title: "RST", priority: 5, min: 3, max: 5},
	colUptime:   {title: "UPTIME", priority: 4, min: 6, max: 6},
	colError:    {title: "LAST ERROR", priority: 10, min: 10, max: 1 << 20},
}

const (
	sparkWidth = 8
	rateWidth  = 6
	colGap     = 1 // cells between columns (the table's cell padding)
)

// byPriority lists the columns in priority order (display order breaks ties).
var byPriority = func() []int {
	order := make([]int, numCols)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return columns[a].priority - columns[b].priority })
	return order
}()

// layout returns each column's width for a terminal width total and the
// natural (content) widths; 0 hides a column. Columns are taken in priority
// order, each as wide as its content (up to its max) if that fits, else at
// its minimum, else neither it nor any less important one; what is left widens the truncated ones, and
// the last error takes the rest.
func layout(total int, natural *[numCols]int) [numCols]int {
	var w [numCols]int
	want := func(c int) int {
		return max(min(max(natural[c], len(columns[c].title)), columns[c].max), columns[c].min)
	}
	used := 0
	for _, c := range byPriority {
		switch {
		case c == colError:
			if used+columns[c].min+colGap <= total {
				w[c] = columns[c].min
			}
		case used+want(c)+colGap <= total:
			w[c] = want(c)
		case used+columns[c].min+colGap <= total:
			w[c] = columns[c].min
		case c == colName && used+colGap < total: // the name always shows, truncated
			w[c] = total - used - colGap
		}
		if w[c] == 0 {
			break // nothing less important shows either
		}
		used += w[c] + colGap
	}
	for _, c := range byPriority {
		if w[c] == 0 || c == colError {
			continue
		}
		grow := min(want(c)-w[c], total-used)
		if c == colTraffic && w[c]+grow < want(c) {
			continue // the sparkline alone, or with its rate: nothing between
		}
		if grow > 0 {
			w[c] += grow
			used += grow
		}
	}
	if w[colError] > 0 {
		w[colError] += total - used
	}
	return w
}
