#include "TimeChart.h"

#include <QChart>
#include <QChartView>
#include <QLineSeries>
#include <QValueAxis>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>

TimeChart::TimeChart(const QString& title, const QStringList& names, int seconds, QWidget* parent, int rightFrom)
    : QWidget(parent), chart_(new QChart), view_(new QChartView(chart_)), x_(new QValueAxis), y_(new QValueAxis), seconds_(seconds),
      rightFrom_(rightFrom)
{
    chart_->setTitle(title);
    chart_->legend()->setAlignment(Qt::AlignBottom);
    chart_->addAxis(x_, Qt::AlignBottom);
    chart_->addAxis(y_, Qt::AlignLeft);
    x_->setLabelFormat("%d s");
    y_->setLabelFormat("%d");
    if (rightFrom_ >= 0) {
        y2_ = new QValueAxis;
        y2_->setLabelFormat("%d");
        chart_->addAxis(y2_, Qt::AlignRight);
    }
    for (const QString& n : names) {
        auto* s = new QLineSeries;
        s->setName(n);
        chart_->addSeries(s);
        s->attachAxis(x_);
        bool right = y2_ && static_cast<int>(series_.size()) >= rightFrom_;
        s->attachAxis(right ? y2_ : y_);
        series_.push_back(s);
        data_.emplace_back();
    }
    view_->setRenderHint(QPainter::Antialiasing);
    view_->setMinimumHeight(220);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(view_);
    clear();
}

TimeChart::Scale TimeChart::niceScale(double peak, bool whole, int intervals)
{
    if (!(peak > 0))
        return {whole ? 4.0 : 1.0, whole ? 1.0 : 0.25, 5};
    double raw = peak / std::max(2, intervals);
    double power = std::pow(10.0, std::floor(std::log10(raw)));
    double step = power;
    for (double m : {1.0, 2.0, 5.0, 10.0})
        if (m * power >= raw) {
            step = m * power;
            break;
        }
    if (whole)
        step = std::max(1.0, std::round(step));
    double top = std::ceil(peak / step) * step;
    if (top <= peak) // the line should not run along the top edge
        top += step;
    int ticks = static_cast<int>(std::lround(top / step)) + 1;
    if (whole && top < 4 && intervals >= 4) { // small counts: 0 1 2 3 4
        top = 4;
        step = 1;
        ticks = 5;
    }
    return {top, step, ticks};
}

void TimeChart::scaleAxis(QValueAxis* axis, double peak, bool whole)
{
    // About one label per 24 pixels of plot height, at most six intervals.
    qreal height = chart_->plotArea().height();
    Scale s = niceScale(peak, whole, height > 0 ? std::clamp(static_cast<int>(height / 24), 2, 6) : 6);
    axis->setRange(0, s.top);
    axis->setTickCount(s.ticks);
    // As many decimals as the step has: 0.25 reads 0.25, not 0.3 (it read 0/0.3/0.5/0.8/1.0).
    int decimals = 0;
    for (double scaled = s.step; !whole && decimals < 4 && std::abs(scaled - std::round(scaled)) > 1e-9; scaled *= 10)
        ++decimals;
    axis->setLabelFormat(decimals == 0 ? QString("%d") : QString("%.%1f").arg(decimals));
}

void TimeChart::setAxes(const QString& leftTitle, bool leftWhole, const QString& rightTitle, bool rightWhole)
{
    y_->setTitleText(leftTitle);
    leftWhole_ = leftWhole;
    if (y2_) {
        y2_->setTitleText(rightTitle);
        rightWhole_ = rightWhole;
    }
    clear();
}

void TimeChart::clear()
{
    t_ = 0;
    for (size_t i = 0; i < series_.size(); ++i) {
        data_[i].clear();
        series_[i]->clear();
    }
    x_->setRange(-seconds_, 0);
    x_->setTickCount(seconds_ >= 3600 ? 7 : 6); // -300 -240 ... 0, or -3600 -3000 ... 0
    scaleAxis(y_, 0, leftWhole_);
    if (y2_)
        scaleAxis(y2_, 0, rightWhole_);
}

void TimeChart::setSpan(int seconds, int step)
{
    seconds_ = seconds;
    step_ = std::max(1, step);
    clear();
}

double TimeChart::peak(int series) const
{
    if (series < 0 || series >= static_cast<int>(data_.size()) || data_[static_cast<size_t>(series)].empty())
        return 0;
    const auto& d = data_[static_cast<size_t>(series)];
    return *std::max_element(d.begin(), d.end());
}

int TimeChart::points() const { return data_.empty() ? 0 : static_cast<int>(data_.front().size()); }

void TimeChart::append(const std::vector<double>& values)
{
    double top = 0, top2 = 0;
    for (size_t i = 0; i < series_.size() && i < values.size(); ++i) {
        bool right = y2_ && static_cast<int>(i) >= rightFrom_;
        data_[i].push_back(values[i]);
        if (static_cast<int>(data_[i].size()) > seconds_ / step_)
            data_[i].pop_front();
        // Replacing the points in one call keeps a 1 Hz update cheap (no per-point signals).
        QList<QPointF> pts;
        int n = static_cast<int>(data_[i].size());
        pts.reserve(n);
        for (int k = 0; k < n; ++k) {
            pts.append(QPointF((k - n + 1) * step_, data_[i][static_cast<size_t>(k)]));
            (right ? top2 : top) = std::max(right ? top2 : top, data_[i][static_cast<size_t>(k)]);
        }
        series_[i]->replace(pts);
    }
    scaleAxis(y_, top, leftWhole_);
    if (y2_)
        scaleAxis(y2_, top2, rightWhole_);
    ++t_;
}
