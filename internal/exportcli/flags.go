package exportcli

import (
	"fmt"
	"math"
	"strconv"
)

// optionalFloat is a float flag that knows whether it was given.
type optionalFloat struct{ v *float64 }

func (f *optionalFloat) String() string {
	if f == nil || f.v == nil {
		return ""
	}
	return strconv.FormatFloat(*f.v, 'g', -1, 64)
}

func (f *optionalFloat) Set(s string) error {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("%q is not a finite number", s)
	}
	f.v = &v
	return nil
}

// optionalString is a string flag that knows whether it was given.
type optionalString struct{ v *string }

func (f *optionalString) String() string {
	if f == nil || f.v == nil {
		return ""
	}
	return *f.v
}

func (f *optionalString) Set(s string) error {
	f.v = &s
	return nil
}
