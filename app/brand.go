package app

import (
	_ "embed"
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"parley/assets"
)

// logo is Parley's mark (the app icon) as a Fyne resource.
var logo = fyne.NewStaticResource("parley-logo.svg", assets.IconSVG)

// brandHeader shows the logo, the name and a subtitle.
func brandHeader(subtitle string) fyne.CanvasObject {
	img := canvas.NewImageFromResource(logo)
	img.FillMode = canvas.ImageFillContain
	img.SetMinSize(fyne.NewSize(56, 56))
	name := widget.NewLabelWithStyle("Parley", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	name.SizeName = theme.SizeNameHeadingText
	sub := widget.NewLabel(subtitle)
	sub.Wrapping = fyne.TextWrapWord
	return container.NewBorder(nil, nil, img, nil, container.NewVBox(name, sub))
}

// withMinWidth makes o at least width wide.
func withMinWidth(width float32, o fyne.CanvasObject) fyne.CanvasObject {
	r := canvas.NewRectangle(color.Transparent)
	r.SetMinSize(fyne.NewSize(width, 0))
	return container.NewStack(r, o)
}

// column stacks objects in a column of the given width; see columnLayout.
func column(width float32, objects ...fyne.CanvasObject) *fyne.Container {
	return container.New(columnLayout{width: width}, objects...)
}

// columnLayout stacks objects vertically like a VBox in a column at least
// width wide, but gives every object that width before asking for its
// minimum height, so that word-wrapped labels report the height they need
// from the first layout on (a VBox in a centring container learns it only
// after a second pass).
type columnLayout struct{ width float32 }

// MinSize implements fyne.Layout.
func (c columnLayout) MinSize(objects []fyne.CanvasObject) fyne.Size {
	h, n := float32(0), 0
	for _, o := range objects {
		if !o.Visible() {
			continue
		}
		if o.Size().Width < c.width {
			o.Resize(fyne.NewSize(c.width, o.MinSize().Height))
		}
		h += o.MinSize().Height
		n++
	}
	if n > 1 {
		h += theme.Padding() * float32(n-1)
	}
	return fyne.NewSize(c.width, h)
}

// Layout implements fyne.Layout.
func (c columnLayout) Layout(objects []fyne.CanvasObject, size fyne.Size) {
	y := float32(0)
	for _, o := range objects {
		if !o.Visible() {
			continue
		}
		h := o.MinSize().Height
		o.Move(fyne.NewPos(0, y))
		o.Resize(fyne.NewSize(size.Width, h))
		y += h + theme.Padding()
	}
}

// heading is a page title.
func heading(text string) *widget.Label {
	l := widget.NewLabelWithStyle(text, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	l.SizeName = theme.SizeNameSubHeadingText
	return l
}

// teamIcon is a "group of people" icon in the style of the theme's icons
// (Material Design "group", Apache License 2.0), themed like them.
var teamIcon = theme.NewThemedResource(fyne.NewStaticResource("team.svg", []byte(
	`<svg xmlns="http://www.w3.org/2000/svg" width="24" height="24" viewBox="0 0 24 24">`+
		`<path fill="#000000" d="M16 11c1.66 0 2.99-1.34 2.99-3S17.66 5 16 5c-1.66 0-3 1.34-3 3s1.34 3 3 3zm-8 0c1.66 0 `+
		`2.99-1.34 2.99-3S9.66 5 8 5C6.34 5 5 6.34 5 8s1.34 3 3 3zm0 2c-2.33 0-7 1.17-7 3.5V19h14v-2.5c0-2.33-4.67-3.5-7-3.5zm8 `+
		`0c-.29 0-.62.02-.97.05 1.16.84 1.97 1.97 1.97 3.45V19h6v-2.5c0-2.33-4.67-3.5-7-3.5z"/></svg>`)))
