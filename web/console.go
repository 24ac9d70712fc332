package web

import (
	"encoding/json"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/socred/socred"
	"github.com/socred/socred/service"
)

// consolePage is the operators' console.
type consolePage struct {
	Title    string
	CSRF     string
	Who      string
	Notice   string
	Console  *service.Console
	Warnings []string
	PackHash string
	Pack     *socred.Pack
	// Charts is the data of the console's charts, for the chart script.
	Charts template.JS
}

// consoleCharts is the console's chart data: bars of the population by
// grade per scheme, lines of entries coming and going per list.
type consoleCharts struct {
	Grades []gradeChart `json:"grades"`
	Lists  []flowChart  `json:"lists"`
}

type gradeChart struct {
	Scheme   string   `json:"scheme"`
	Grades   []string `json:"grades"`
	Subjects []int    `json:"subjects"`
}

type flowChart struct {
	List    string  `json:"list"`
	X       []int64 `json:"x"` // days, Unix seconds
	Entered []int   `json:"entered"`
	Left    []int   `json:"left"`
}

func (w *Web) console(rw http.ResponseWriter, r *http.Request, s *session) {
	c, err := w.svc.Console(r.Context(), s.caller)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	var charts consoleCharts
	for _, sc := range c.Schemes {
		g := gradeChart{Scheme: sc.Scheme}
		for _, gc := range sc.Grades {
			name := gc.Grade
			if name == "" {
				name = "(none)"
			}
			g.Grades, g.Subjects = append(g.Grades, name), append(g.Subjects, gc.Subjects)
		}
		charts.Grades = append(charts.Grades, g)
	}
	now := time.Now().UTC()
	for _, l := range c.Lists {
		f := flowChart{List: l.List}
		byDay := map[int64]socred.ListingDay{}
		for _, d := range l.Days {
			byDay[d.Day.Unix()] = d
		}
		// Every day of the window, so that quiet days show as zero.
		day := now.AddDate(0, 0, -service.ConsoleDays).Truncate(24 * time.Hour)
		for ; !day.After(now); day = day.AddDate(0, 0, 1) {
			d := byDay[day.Unix()]
			f.X, f.Entered, f.Left = append(f.X, day.Unix()), append(f.Entered, d.Entered), append(f.Left, d.Left)
		}
		charts.Lists = append(charts.Lists, f)
	}
	b, _ := json.Marshal(charts)
	w.render(rw, r, http.StatusOK, "console", consolePage{Title: "Console", CSRF: s.CSRF, Who: s.caller.Name(),
		Notice: w.done(r), Console: c, Warnings: w.warnings, PackHash: w.svc.Pack().Hash, Pack: w.svc.Pack(), Charts: template.JS(b)}) // #nosec G203 -- json.Marshal output, which escapes <, > and &, in a script of type application/json
}

func (w *Web) decideAppeal(rw http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	in := service.DecisionInput{Decision: socred.AppealStatus(r.PostFormValue("decision")), Reasons: r.PostFormValue("reasons")}
	a, err := w.svc.DecideAppeal(r.Context(), s.caller, id, in)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	http.Redirect(rw, r, w.doneURL("/console", "appeal "+a.ID+" "+string(a.Status)), http.StatusSeeOther) // #nosec G710 -- a fixed local path; the text is query-escaped
}

func (w *Web) decideRepair(rw http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	in := service.RepairDecisionInput{Decision: socred.RepairStatus(r.PostFormValue("decision")), Reasons: r.PostFormValue("reasons")}
	rp, err := w.svc.DecideRepair(r.Context(), s.caller, id, in)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	http.Redirect(rw, r, w.doneURL("/console", "application "+rp.ID+" "+string(rp.Status)), http.StatusSeeOther) // #nosec G710 -- a fixed local path; the text is query-escaped
}

func (w *Web) designate(rw http.ResponseWriter, r *http.Request, s *session) {
	list := r.PostFormValue("list")
	in := service.DesignationInput{Subject: strings.TrimSpace(r.PostFormValue("subject")), Reason: r.PostFormValue("reason"),
		Case: r.PostFormValue("case"), Term: r.PostFormValue("term")}
	l, err := w.svc.Designate(r.Context(), s.caller, list, in)
	if err != nil {
		w.fail(rw, r, err)
		return
	}
	http.Redirect(rw, r, w.doneURL("/console", l.Subject+" designated on "+l.List), http.StatusSeeOther)
}
