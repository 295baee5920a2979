package checks

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/gradelab/grade/grader"
)

// ScratchDockerfile is the optional Part 8 Dockerfile.
const ScratchDockerfile = "Dockerfile.scratch"

// BonusScratch grades the optional Dockerfile.scratch end to end.
var BonusScratch = &grader.Check{
	ID:         "bonus.scratch",
	Title:      "Bonus: a scratch image that works",
	Doc:        "Optional (Part 8). Dockerfile.scratch must build with a final stage FROM scratch, run, and answer GET /health. Skipped when the file is absent.",
	Checkpoint: 7,
	Points:     10,
	Bonus:      true,
	Run: func(p *grader.Pass) grader.Outcome {
		f, err := p.Dockerfile(ScratchDockerfile)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return grader.Skipped("no Dockerfile.scratch (optional Part 8: a final stage FROM scratch)")
		case err != nil:
			return grader.Failed(err.Error(), "fix Dockerfile.scratch so that it parses")
		}
		final := f.Final()
		if final.Base != "scratch" {
			return grader.Failed(fmt.Sprintf("the final stage of Dockerfile.scratch is based on %s, not scratch", final.Base),
				"make the final stage `FROM scratch` and copy only the static binary into it").At(ScratchDockerfile, final.Line)
		}
		img, err := p.Image(ScratchDockerfile)
		if err != nil {
			return buildFailure(ScratchDockerfile, err)
		}
		c, err := p.Container(ScratchDockerfile)
		if err != nil {
			return diagnoseStart(p, ScratchDockerfile, c, err)
		}
		o := probeHealth(p, c)
		if o.Status == grader.StatusPass {
			o.Message = fmt.Sprintf("FROM scratch image of %s answers GET /health", grader.FormatSize(img.SizeBytes))
		}
		return o
	},
}
