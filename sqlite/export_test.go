package sqlite

// SetLoadSplitMin sets how many records make Load read them on several
// connections, and returns a function that restores it.
func SetLoadSplitMin(n int64) (restore func()) {
	old := loadSplitMin
	loadSplitMin = n
	return func() { loadSplitMin = old }
}
