package algorithm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/dataset"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// APOConfig tunes APO; zero values take Agent Lightning's defaults.
type APOConfig struct {
	GradientModel string
	EditModel     string
	// Temperature of both optimizer calls (Agent Lightning's
	// diversity_temperature, default 1.0; set a negative value for 0).
	Temperature       float64
	BeamWidth         int
	BranchFactor      int
	BeamRounds        int
	GradientBatchSize int
	ValBatchSize      int
	// BatchTimeout bounds each batch of rollouts (default 1h).
	BatchTimeout time.Duration
	// SkipInitialValidation skips scoring the seed on the whole validation
	// set (Agent Lightning's run_initial_validation=false).
	SkipInitialValidation bool
	// PromptResource names the prompt_template resource to optimise;
	// default the first one by name.
	PromptResource string
	// Seed makes sampling reproducible.
	Seed uint64
	// LLMConcurrency bounds the optimizer calls in flight (default 4).
	LLMConcurrency int
}

// Agent Lightning's APO defaults.
const (
	DefaultGradientModel     = "gpt-5-mini"
	DefaultEditModel         = "gpt-4.1-mini"
	DefaultTemperature       = 1.0
	DefaultBeamWidth         = 4
	DefaultBranchFactor      = 4
	DefaultBeamRounds        = 3
	DefaultGradientBatchSize = 4
	DefaultValBatchSize      = 16
	defaultLLMConcurrency    = 4
)

func (c APOConfig) withDefaults() APOConfig {
	if c.GradientModel == "" {
		c.GradientModel = DefaultGradientModel
	}
	if c.EditModel == "" {
		c.EditModel = DefaultEditModel
	}
	switch {
	case c.Temperature == 0:
		c.Temperature = DefaultTemperature
	case c.Temperature < 0:
		c.Temperature = 0
	}
	c.BeamWidth = positiveOr(c.BeamWidth, DefaultBeamWidth)
	c.BranchFactor = positiveOr(c.BranchFactor, DefaultBranchFactor)
	c.BeamRounds = positiveOr(c.BeamRounds, DefaultBeamRounds)
	c.GradientBatchSize = positiveOr(c.GradientBatchSize, DefaultGradientBatchSize)
	c.ValBatchSize = positiveOr(c.ValBatchSize, DefaultValBatchSize)
	c.LLMConcurrency = positiveOr(c.LLMConcurrency, defaultLLMConcurrency)
	if c.BatchTimeout <= 0 {
		c.BatchTimeout = DefaultBatchTimeout
	}
	return c
}

func positiveOr(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// APO is Agent Lightning's automatic prompt optimization
// (agent-lightning-spec.md §7.3): a beam search over prompt templates in
// which each child is the parent edited along a "textual gradient", a
// critique the optimizer model writes from the parent's rollouts.
//
// Every prompt it tries is published as its own resources snapshot (the
// initial resources with the template replaced) and rolled out with that
// resources_id, so all candidates stay visible over the API. At the end the
// best snapshot is updated once more, which makes it the latest resources
// for whatever runs next.
type APO struct {
	cfg APOConfig
}

var _ Algorithm = (*APO)(nil)

// NewAPO returns the algorithm.
func NewAPO(cfg APOConfig) *APO { return &APO{cfg: cfg.withDefaults()} }

// Name implements Algorithm.
func (*APO) Name() string { return NameAPO }

// candidate is one prompt template under consideration.
type candidate struct {
	ResourcesID string
	Label       string // v0, v1, ... in creation order
	Parent      string
	Template    string
	Resources   model.NamedResources
}

// apoRun is the state of one Run. Only the optimizer calls run
// concurrently; everything else, the random source included, stays on the
// Run goroutine.
type apoRun struct {
	cfg       APOConfig
	env       *Env
	log       *zap.Logger
	rng       *rand.Rand
	name      string // the prompt resource
	engine    string
	base      model.NamedResources
	versions  int
	trainIter *batcher
	valIter   *batcher
	best      *candidate
	bestScore float64
	round     int
}

// Run implements Algorithm.
func (a *APO) Run(ctx context.Context, env *Env) error {
	if env.LLM == nil {
		return errors.New("apo needs an optimizer model (llm)")
	}
	if len(env.Dataset.Train) == 0 || len(env.Dataset.Val) == 0 {
		return fmt.Errorf("apo needs training and validation tasks, got %d and %d", len(env.Dataset.Train), len(env.Dataset.Val))
	}
	r := &apoRun{
		cfg: a.cfg, env: env, log: env.logger(),
		rng: rand.New(rand.NewPCG(a.cfg.Seed, a.cfg.Seed^0x5851f42d4c957f2d)),
	}
	r.trainIter = newBatcher(env.Dataset.Train, a.cfg.GradientBatchSize, r.rng)
	r.valIter = newBatcher(env.Dataset.Val, a.cfg.ValBatchSize, r.rng)
	env.Progress.Start(a.cfg.BeamRounds)
	seed, err := r.seed(ctx)
	if err != nil {
		return err
	}
	if err := r.search(ctx, seed); err != nil {
		return err
	}
	return r.publishBest(ctx)
}

// seed publishes the seed template as v0 and, unless skipped, scores it on
// the whole validation set as the baseline.
func (r *apoRun) seed(ctx context.Context) (*candidate, error) {
	base := r.env.Resources
	if len(base) == 0 {
		snap, err := r.env.Store.GetLatestResources(ctx)
		if err != nil {
			return nil, fmt.Errorf("read the latest resources: %w", err)
		}
		if snap != nil {
			base = snap.Resources
		}
	}
	name, tmpl, err := findPrompt(base, r.cfg.PromptResource)
	if err != nil {
		return nil, err
	}
	r.base, r.name, r.engine = base, name, tmpl.Engine
	seed, err := r.publish(ctx, tmpl.Template, "")
	if err != nil {
		return nil, err
	}
	r.log.Info("APO started", zap.String("prompt_resource", name), zap.String("seed_resources_id", seed.ResourcesID),
		zap.Int("train", len(r.env.Dataset.Train)), zap.Int("val", len(r.env.Dataset.Val)), zap.Int("rounds", r.cfg.BeamRounds))
	if r.cfg.SkipInitialValidation {
		return seed, nil
	}
	score, err := r.fullValidation(ctx, seed, ScoreBaseline)
	if err != nil {
		return nil, err
	}
	r.env.Progress.SetBaseline(score)
	r.setBest(seed, score)
	r.log.Info("APO baseline", zap.Float64("val_score", score), zap.String("resources_id", seed.ResourcesID))
	return seed, nil
}

// search runs the beam rounds.
func (r *apoRun) search(ctx context.Context, seed *candidate) error {
	beam := []*candidate{seed}
	for round := 1; round <= r.cfg.BeamRounds; round++ {
		r.round = round
		r.env.Progress.SetRound(round)
		parents := r.parents(beam)
		children, err := r.expand(ctx, parents)
		if err != nil {
			return err
		}
		beam, err = r.selectBeam(ctx, append(slices.Clone(beam), children...))
		if err != nil {
			return err
		}
		leader := beam[0]
		score, err := r.fullValidation(ctx, leader, ScoreLeader)
		if err != nil {
			return err
		}
		improved := r.best == nil || score > r.bestScore
		if improved {
			r.setBest(leader, score)
		}
		r.log.Info("APO round finished", zap.Int("round", round), zap.Int("rounds", r.cfg.BeamRounds),
			zap.Int("new_candidates", len(children)), zap.String("leader", leader.Label), zap.Float64("leader_val_score", score),
			zap.Float64("best_val_score", r.bestScore), zap.Bool("improved", improved))
	}
	return nil
}

// parents repeats a small beam cyclically up to the beam width, or samples
// beam-width members without replacement from a full one.
func (r *apoRun) parents(beam []*candidate) []*candidate {
	if len(beam) < r.cfg.BeamWidth {
		out := make([]*candidate, r.cfg.BeamWidth)
		for i := range out {
			out[i] = beam[i%len(beam)]
		}
		return out
	}
	perm := r.rng.Perm(len(beam))
	out := make([]*candidate, r.cfg.BeamWidth)
	for i := range out {
		out[i] = beam[perm[i]]
	}
	return out
}

// expansion is one (parent, branch) pair of a round.
type expansion struct {
	parent   *candidate
	variantG int
	variantE int
}

// expand evaluates each parent on a fresh training batch per branch, then
// asks for a critique and an edit per branch. All rollouts of the round go
// out at once; the optimizer calls run with bounded concurrency.
func (r *apoRun) expand(ctx context.Context, parents []*candidate) ([]*candidate, error) {
	var exps []expansion
	var batches []batch
	for _, p := range parents {
		for range r.cfg.BranchFactor {
			tasks := r.trainIter.next()
			exps = append(exps, expansion{parent: p, variantG: r.rng.IntN(len(gradientPrompts)), variantE: r.rng.IntN(len(editPrompts))})
			batches = append(batches, batch{ResourcesID: p.ResourcesID, Mode: model.ModeTrain, Tasks: tasks, KeepSpans: true,
				Metadata: map[string]any{"algorithm": NameAPO, "round": r.round, "candidate": p.Label, "purpose": "gradient"}})
		}
	}
	results, err := r.env.runBatches(ctx, batches, r.cfg.BatchTimeout)
	if err != nil {
		return nil, err
	}
	for i, res := range results {
		r.record(ScoreParent, exps[i].parent, model.ModeTrain, res)
	}
	templates := make([]string, len(exps))
	err = parallel(ctx, len(exps), r.cfg.LLMConcurrency, func(i int) error {
		t, err := r.improve(ctx, exps[i], results[i])
		templates[i] = t
		return err
	})
	if err != nil {
		return nil, err
	}
	var children []*candidate
	for i, t := range templates {
		if t == "" {
			r.log.Info("APO dropped an empty edit", zap.String("parent", exps[i].parent.Label))
			continue
		}
		c, err := r.publish(ctx, t, exps[i].parent.ResourcesID)
		if err != nil {
			return nil, err
		}
		children = append(children, c)
	}
	return children, nil
}

// improve computes the textual gradient of a parent on its batch and
// applies it; "" means the edit came back empty (the child is dropped).
func (r *apoRun) improve(ctx context.Context, e expansion, res batchResult) (string, error) {
	sample := res.Results
	if len(sample) > r.cfg.GradientBatchSize {
		sample = sample[:r.cfg.GradientBatchSize]
	}
	critique, err := r.env.LLM.Complete(ctx, r.cfg.GradientModel, gradientMessages(e.variantG, e.parent.Template, sample), r.cfg.Temperature)
	if err != nil {
		return "", fmt.Errorf("compute the textual gradient of %s: %w", e.parent.Label, err)
	}
	if critique == "" {
		// Nothing to apply: the child is the parent's text, as in Agent
		// Lightning.
		return e.parent.Template, nil
	}
	edited, err := r.env.LLM.Complete(ctx, r.cfg.EditModel, editMessages(e.variantE, e.parent.Template, critique), r.cfg.Temperature)
	if err != nil {
		return "", fmt.Errorf("apply the edit to %s: %w", e.parent.Label, err)
	}
	return cleanTemplate(edited), nil
}

// selectBeam scores every candidate on the round's validation batch and
// keeps the best beam-width ones (ties keep the older candidate).
func (r *apoRun) selectBeam(ctx context.Context, candidates []*candidate) ([]*candidate, error) {
	if len(candidates) == 0 {
		return nil, errors.New("apo has no candidate prompt left")
	}
	tasks := r.valIter.next()
	batches := make([]batch, len(candidates))
	for i, c := range candidates {
		batches[i] = batch{ResourcesID: c.ResourcesID, Mode: model.ModeVal, Tasks: tasks,
			Metadata: map[string]any{"algorithm": NameAPO, "round": r.round, "candidate": c.Label, "purpose": "select"}}
	}
	results, err := r.env.runBatches(ctx, batches, r.cfg.BatchTimeout)
	if err != nil {
		return nil, err
	}
	order := make([]int, len(candidates))
	for i := range order {
		order[i] = i
		r.record(ScoreCandidate, candidates[i], model.ModeVal, results[i])
	}
	sort.SliceStable(order, func(a, b int) bool { return results[order[a]].Score > results[order[b]].Score })
	beam := make([]*candidate, 0, r.cfg.BeamWidth)
	for _, i := range order[:min(r.cfg.BeamWidth, len(order))] {
		beam = append(beam, candidates[i])
	}
	return beam, nil
}

// fullValidation scores a candidate on the whole validation set.
func (r *apoRun) fullValidation(ctx context.Context, c *candidate, kind string) (float64, error) {
	results, err := r.env.runBatches(ctx, []batch{{ResourcesID: c.ResourcesID, Mode: model.ModeVal, Tasks: r.env.Dataset.Val,
		Metadata: map[string]any{"algorithm": NameAPO, "round": r.round, "candidate": c.Label, "purpose": kind}}}, r.cfg.BatchTimeout)
	if err != nil {
		return 0, err
	}
	r.record(kind, c, model.ModeVal, results[0])
	return results[0].Score, nil
}

func (r *apoRun) record(kind string, c *candidate, mode model.RolloutMode, res batchResult) {
	r.env.Progress.AddScore(Score{Round: r.round, Kind: kind, ResourcesID: c.ResourcesID, Label: c.Label, Parent: c.Parent,
		Mode: string(mode), Rollouts: len(res.Results), Finished: res.Finished, Score: res.Score})
}

func (r *apoRun) setBest(c *candidate, score float64) {
	r.best, r.bestScore = c, score
	r.env.Progress.SetBest(score, c.ResourcesID, c.Template)
}

// publish stores a template as a new resources snapshot: the base
// resources with the prompt resource replaced.
func (r *apoRun) publish(ctx context.Context, template, parent string) (*candidate, error) {
	prompt, err := json.Marshal(model.PromptTemplate{ResourceType: model.ResourcePromptTemplate, Template: template, Engine: r.engine})
	if err != nil {
		return nil, fmt.Errorf("encode the prompt template: %w", err)
	}
	res := maps.Clone(r.base)
	if res == nil {
		res = model.NamedResources{}
	}
	res[r.name] = prompt
	snap, err := r.env.Store.AddResources(ctx, res)
	if err != nil {
		return nil, fmt.Errorf("publish a candidate prompt: %w", err)
	}
	c := &candidate{ResourcesID: snap.ResourcesID, Label: "v" + strconv.Itoa(r.versions), Parent: parent, Template: template, Resources: res}
	r.versions++
	return c, nil
}

// publishBest makes the best snapshot the latest resources.
func (r *apoRun) publishBest(ctx context.Context) error {
	if r.best == nil {
		return nil
	}
	if _, err := r.env.Store.UpdateResources(ctx, r.best.ResourcesID, r.best.Resources); err != nil {
		return fmt.Errorf("publish the best prompt as the latest resources: %w", err)
	}
	r.log.Info("APO finished", zap.String("best_resources_id", r.best.ResourcesID), zap.String("best_label", r.best.Label),
		zap.Float64("best_val_score", r.bestScore), zap.Int("candidates", r.versions))
	return nil
}

// findPrompt returns the prompt_template resource to optimise: the named
// one, else the first by name.
func findPrompt(res model.NamedResources, name string) (string, model.PromptTemplate, error) {
	names := slices.Sorted(maps.Keys(res))
	if name != "" {
		names = []string{name}
	}
	for _, n := range names {
		raw, ok := res[n]
		if !ok {
			return "", model.PromptTemplate{}, fmt.Errorf("%w: resource %q does not exist", errNoPrompt, n)
		}
		var p model.PromptTemplate
		if err := json.Unmarshal(raw, &p); err == nil && p.ResourceType == model.ResourcePromptTemplate {
			if p.Engine == "" {
				p.Engine = "f-string"
			}
			return n, p, nil
		}
		if name != "" {
			return "", model.PromptTemplate{}, fmt.Errorf("%w: resource %q is not a prompt_template", errNoPrompt, n)
		}
	}
	return "", model.PromptTemplate{}, errNoPrompt
}

// batcher yields batches of distinct tasks from reshuffled epochs, for
// ever; a batch at least as large as the tasks is all of them, reshuffled.
type batcher struct {
	tasks []dataset.Task
	size  int
	rng   *rand.Rand
	order []int
	pos   int
}

func newBatcher(tasks []dataset.Task, size int, rng *rand.Rand) *batcher {
	return &batcher{tasks: tasks, size: size, rng: rng}
}

func (b *batcher) next() []dataset.Task {
	if b.size >= len(b.tasks) {
		out := slices.Clone(b.tasks)
		b.rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
		return out
	}
	if b.order == nil || b.pos+b.size > len(b.order) {
		b.order, b.pos = b.rng.Perm(len(b.tasks)), 0
	}
	out := make([]dataset.Task, b.size)
	for i := range out {
		out[i] = b.tasks[b.order[b.pos+i]]
	}
	b.pos += b.size
	return out
}

// parallel runs fn(0..n-1) with at most limit at a time and returns the
// first error; the others still finish.
func parallel(ctx context.Context, n, limit int, fn func(i int) error) error {
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return ctx.Err()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = fn(i)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
