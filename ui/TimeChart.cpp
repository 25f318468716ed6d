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

void TimeChart::clear()
{
    t_ = 0;
    for (size_t i = 0; i < series_.size(); ++i) {
        data_[i].clear();
        series_[i]->clear();
    }
    x_->setRange(-seconds_, 0);
    y_->setLabelFormat("%.1f");
    y_->setRange(0, 1);
    if (y2_)
        y2_->setRange(0, 4);
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
    double top = 1, top2 = 4;
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
    // Whole numbers on the axis unless the range is too small for them (0, 0, 0, 1 otherwise).
    y_->setLabelFormat(top * 1.15 < 4 ? "%.1f" : "%d");
    y_->setRange(0, top * 1.15);
    if (y2_)
        y2_->setRange(0, std::ceil(top2 * 1.15));
    ++t_;
}
