package service

// SetDueBatch sets about how many due subjects one scheduler write takes,
// so that tests can make a pass span several writes with few subjects.
func SetDueBatch(s *Service, n int) { s.dueBatch = n }
