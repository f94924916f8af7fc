<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN" sourcelanguage="en">
<context>
    <name>Alarm</name>
    <message>
        <source>Alarm: {value} waiting for {service} (limit {threshold})</source>
        <translation>告警：{service}等候 {value} 人（阈值 {threshold}）</translation>
    </message>
    <message>
        <source>Alarm: {number} has waited {value} min for {service}</source>
        <translation>告警：{number} 已等候 {value} 分钟（{service}）</translation>
    </message>
    <message>
        <source>Alarm: window {window} has called nobody for {value} min while people wait</source>
        <translation>告警：{window} 号窗口已 {value} 分钟未叫号，仍有人等候</translation>
    </message>
    <message>
        <source>Alarm: {number} rated “{score}” at window {window}</source>
        <translation>告警：{number} 在 {window} 号窗口评价为“{score}”</translation>
    </message>
    <message>
        <source>Alarm: {kind}</source>
        <translation>告警：{kind}</translation>
    </message>
    <message>
        <source>…and {n} more alarms</source>
        <translation>…另有 {n} 条告警</translation>
    </message>
</context>
<context>
    <name>Assist</name>
    <message>
        <source>Assisted by {staff}</source>
        <translation>帮办 · 工作人员 {staff}</translation>
    </message>
    <message>
        <source>Proxy service by {staff}</source>
        <translation>代办 · 工作人员 {staff}</translation>
    </message>
</context>
<context>
    <name>Bundles</name>
    <message>
        <source>{name} · step {leg} of {legs}</source>
        <translation>{name} · 第{leg}项/共{legs}项</translation>
    </message>
</context>
<context>
    <name>Demo</name>
    <message>
        <source>Window stations</source>
        <extracomment>How long a terminal&apos;s start waits for the hub before its screens appear (they then say they are connecting, and come alive by themselves when the hub answers).</extracomment>
        <translation>窗口工作站</translation>
    </message>
    <message>
        <source>Device simulator</source>
        <translation>模拟设备</translation>
    </message>
</context>
<context>
    <name>Devices</name>
    <message>
        <source>out of paper</source>
        <translation>缺纸</translation>
    </message>
    <message>
        <source>paper nearly out</source>
        <translation>纸将用尽</translation>
    </message>
    <message>
        <source>cover open</source>
        <translation>纸仓盖未关</translation>
    </message>
    <message>
        <source>cutter jammed</source>
        <translation>切刀卡住</translation>
    </message>
    <message>
        <source>offline</source>
        <translation>离线</translation>
    </message>
    <message>
        <source>not answering</source>
        <translation>无响应</translation>
    </message>
    <message>
        <source>unplugged</source>
        <translation>已拔出</translation>
    </message>
    <message>
        <source>not connected</source>
        <translation>未连接</translation>
    </message>
    <message>
        <source>line errors</source>
        <translation>通信错误</translation>
    </message>
    <message>
        <source>no printer</source>
        <translation>无打印机</translation>
    </message>
    <message>
        <source>card module not ready</source>
        <translation>读卡模块未就绪</translation>
    </message>
    <message>
        <source>fault</source>
        <translation>故障</translation>
    </message>
    <message>
        <source>online</source>
        <translation>正常</translation>
    </message>
    <message>
        <source>Ticket printer</source>
        <translation>热敏打印机</translation>
    </message>
    <message>
        <source>ID-card reader</source>
        <translation>身份证阅读器</translation>
    </message>
    <message>
        <source>Code scanner</source>
        <translation>扫码器</translation>
    </message>
    <message>
        <source>Window display</source>
        <translation>窗口屏</translation>
    </message>
    <message>
        <source>Evaluator</source>
        <translation>评价器</translation>
    </message>
    <message>
        <source>disk full</source>
        <translation>磁盘已满</translation>
    </message>
    <message>
        <source>Hall system disk</source>
        <translation>系统磁盘</translation>
    </message>
</context>
<context>
    <name>Done</name>
    <message>
        <source>Called {number}</source>
        <translation>已呼叫 {number}</translation>
    </message>
    <message>
        <source>Called {number} again</source>
        <translation>已重呼 {number}</translation>
    </message>
    <message>
        <source>{number} marked as no-show</source>
        <translation>{number} 已过号</translation>
    </message>
    <message>
        <source>Serving {number}</source>
        <translation>开始办理 {number}</translation>
    </message>
    <message>
        <source>{number} finished</source>
        <translation>{number} 已办结</translation>
    </message>
    <message>
        <source>{number} transferred to {service}</source>
        <translation>{number} 已转办到 {service}</translation>
    </message>
    <message>
        <source>{number} is back in the queue</source>
        <translation>{number} 已重新排队</translation>
    </message>
    <message>
        <source>Window paused</source>
        <translation>已暂停服务</translation>
    </message>
    <message>
        <source>Window open again</source>
        <translation>已恢复服务</translation>
    </message>
    <message>
        <source>Signed in</source>
        <translation>已签到</translation>
    </message>
    <message>
        <source>Signed out</source>
        <translation>已签退</translation>
    </message>
    <message>
        <source>Done</source>
        <translation>已完成</translation>
    </message>
</context>
<context>
    <name>Errors</name>
    <message>
        <source>This service is not offered here</source>
        <translation>本中心不办理该事项</translation>
    </message>
    <message>
        <source>There is no such window</source>
        <translation>没有该窗口</translation>
    </message>
    <message>
        <source>No such ticket today</source>
        <translation>今日没有该号码</translation>
    </message>
    <message>
        <source>This service is not open now; please come back during opening hours</source>
        <translation>该事项当前不在办理时间，请在办理时间内前来</translation>
    </message>
    <message>
        <source>Today&apos;s numbers are all taken for this service</source>
        <translation>该事项今日号已取完</translation>
    </message>
    <message>
        <source>You have reached today&apos;s ticket limit for this service</source>
        <translation>您今日该事项的取号次数已达上限</translation>
    </message>
    <message>
        <source>You already hold number {number}; please wait to be called</source>
        <translation>您已取号 {number}，请耐心等候叫号</translation>
    </message>
    <message>
        <source>Nobody is waiting</source>
        <translation>当前无人等候</translation>
    </message>
    <message>
        <source>The window is paused; resume service first</source>
        <translation>窗口已暂停服务，请先恢复服务</translation>
    </message>
    <message>
        <source>Finish or transfer {number} first</source>
        <translation>请先办结或转办 {number}</translation>
    </message>
    <message>
        <source>No ticket at this window</source>
        <translation>本窗口当前没有号码</translation>
    </message>
    <message>
        <source>This action is not possible for this ticket now</source>
        <translation>该号码当前不能进行此操作</translation>
    </message>
    <message>
        <source>Number {number} missed its turn too long ago; please take a new ticket</source>
        <translation>{number} 过号时间过长，请重新取号</translation>
    </message>
    <message>
        <source>No appointment today for this code; please ask at the service desk</source>
        <translation>未查到该二维码的今日预约，请到咨询台咨询</translation>
    </message>
    <message>
        <source>This appointment is already checked in as {number}</source>
        <translation>该预约已签到，号码为 {number}</translation>
    </message>
    <message>
        <source>This slip is not a ticket of this hall today; please ask at the service desk</source>
        <translation>此凭条不是本大厅今日的号码，请到服务台咨询</translation>
    </message>
    <message>
        <source>Your appointment time has passed; please choose a service for a number</source>
        <translation>您的预约时段已过，请选择业务取号</translation>
    </message>
    <message>
        <source>This ticket is already rated</source>
        <translation>该号码已评价</translation>
    </message>
    <message>
        <source>The hall settings are out of date</source>
        <translation>大厅配置已过期</translation>
    </message>
    <message>
        <source>The system is busy; please try again in a moment</source>
        <translation>系统繁忙，请稍后再试</translation>
    </message>
    <message>
        <source>The hall system cannot be reached; please ask the staff</source>
        <translation>暂时无法连接大厅系统，请咨询工作人员</translation>
    </message>
    <message>
        <source>Nobody is signed in at this window: sign in first</source>
        <translation>本窗口无人签到，请先签到</translation>
    </message>
    <message>
        <source>Wrong staff ID or PIN</source>
        <translation>工号或密码错误</translation>
    </message>
    <message>
        <source>Wrong staff ID, PIN or staff card; try again in {seconds} s</source>
        <translation>工号、密码或工作证有误，请 {seconds} 秒后重试</translation>
    </message>
    <message>
        <source>Too many wrong PINs: sign-in here is locked for {seconds} s</source>
        <translation>密码错误次数过多，签到已锁定 {seconds} 秒</translation>
    </message>
    <message>
        <source>You are not on the staff list of this window</source>
        <translation>您不在本窗口的人员名单中</translation>
    </message>
    <message>
        <source>The business day has ended: sign-in is closed</source>
        <translation>今日业务已结束，不能签到</translation>
    </message>
    <message>
        <source>Choose why the window pauses first</source>
        <translation>请先选择暂停原因</translation>
    </message>
    <message>
        <source>Sorry, this did not work; please ask the staff</source>
        <translation>操作未成功，请咨询工作人员</translation>
    </message>
    <message>
        <source>Connection to the hall system lost; this screen updates when it is back</source>
        <translation>与大厅系统的连接已断开，恢复后本屏幕将自动更新</translation>
    </message>
    <message>
        <source>The hall system did not confirm your number in time. It may have been issued: please ask the staff before taking another ticket</source>
        <translation>大厅系统未能及时确认您的号码，号码可能已经取出：请先咨询工作人员，不要重复取号</translation>
    </message>
    <message>
        <source>The hall system did not answer in time; the action may have been done. Check the screen before trying again</source>
        <translation>大厅系统未及时响应，操作可能已经完成。请先查看屏幕再重试</translation>
    </message>
    <message>
        <source>Connecting to the hall system…</source>
        <translation>正在连接大厅系统…</translation>
    </message>
    <message>
        <source>Please wait…</source>
        <translation>请稍候…</translation>
    </message>
    <message>
        <source>No new numbers now: the hall system&apos;s disk is full; please ask the staff</source>
        <translation>暂时无法取号：系统磁盘已满，请联系工作人员</translation>
    </message>
</context>
<context>
    <name>Format</name>
    <message>
        <source>window {windows}</source>
        <translation>{windows} 号窗口</translation>
    </message>
    <message>
        <source>, </source>
        <translation>、</translation>
    </message>
    <message>
        <source> or </source>
        <translation>、</translation>
    </message>
    <message>
        <source>windows {windows}</source>
        <translation>{windows} 号窗口</translation>
    </message>
    <message>
        <source>You are next; please listen for your number</source>
        <translation>您是下一位，请留意叫号</translation>
    </message>
    <message>
        <source>{n} people ahead · about {m} min</source>
        <translation>前面还有 {n} 人 · 预计等候约 {m} 分钟</translation>
    </message>
</context>
<context>
    <name>HallDisplayView</name>
    <message>
        <source>Now calling</source>
        <translation>正在呼叫</translation>
    </message>
    <message>
        <source>Recent calls</source>
        <translation>最近叫号</translation>
    </message>
    <message>
        <source>Hall display</source>
        <translation>综合屏</translation>
    </message>
    <message>
        <source>Windows</source>
        <translation>窗口</translation>
    </message>
    <message>
        <source>People waiting</source>
        <translation>等候人数</translation>
    </message>
    <message>
        <source>Last call</source>
        <translation>上一位</translation>
    </message>
    <message>
        <source>Please go to window {window}</source>
        <translation>请到 {window} 号窗口办理</translation>
    </message>
    <message>
        <source>Window {window}</source>
        <translation>{window} 号窗口</translation>
    </message>
    <message>
        <source>{name}: {n}</source>
        <translation>{name}：{n} 人</translation>
    </message>
    <message>
        <source>{window} {state}</source>
        <translation>{window} {state}</translation>
    </message>
    <message>
        <source>No. {n}</source>
        <translation>{n}号</translation>
    </message>
</context>
<context>
    <name>Kiosk</name>
    <message>
        <source>Your number is {number}; please remember it and wait to be called</source>
        <translation>您的号码是 {number}，请记住号码并留意叫号</translation>
    </message>
    <message>
        <source>The card could not be read; please swipe it again</source>
        <translation>未能正确读取身份证，请重新刷卡</translation>
    </message>
    <message>
        <source>This ticket is from another day; its number is not valid today</source>
        <translation>这张号票不是今天的，其号码今天无效</translation>
    </message>
    <message>
        <source>Please go to the service desk for a number</source>
        <translation>请到服务台取号</translation>
    </message>
</context>
<context>
    <name>KioskLock</name>
    <message>
        <source>Staff only</source>
        <translation>仅限工作人员</translation>
    </message>
    <message>
        <source>Too many wrong PINs: try again in {minutes} min</source>
        <translation>PIN 错误次数过多，请 {minutes} 分钟后再试</translation>
    </message>
    <message>
        <source>Wrong PIN: try again in {seconds} s</source>
        <translation>PIN 错误，请 {seconds} 秒后再试</translation>
    </message>
</context>
<context>
    <name>KioskView</name>
    <message>
        <source>Normal text</source>
        <translation>标准字体</translation>
    </message>
    <message>
        <source>Large text</source>
        <translation>大字模式</translation>
    </message>
    <message>
        <source>Please wait, your number is being issued…</source>
        <translation>正在为您取号，请稍候…</translation>
    </message>
    <message>
        <source>Please choose a service</source>
        <translation>请选择办理事项</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>ID card: place your card on the reader, then choose a service</source>
        <translation>刷身份证取号：请将身份证放在感应区，再选择事项</translation>
    </message>
    <message>
        <source>Appointment: scan the QR code of your booking to check in</source>
        <translation>预约签到：请将预约二维码对准扫码口</translation>
    </message>
    <message>
        <source>Service guides</source>
        <translation>办事指南</translation>
    </message>
    <message>
        <source>My ticket&apos;s progress</source>
        <translation>排队进度查询</translation>
    </message>
    <message>
        <source>Self-service kiosk</source>
        <translation>自助取号机</translation>
    </message>
    <message>
        <source>Other services</source>
        <translation>其他事项</translation>
    </message>
    <message>
        <source>Previous page</source>
        <translation>上一页</translation>
    </message>
    <message>
        <source>Next page</source>
        <translation>下一页</translation>
    </message>
    <message>
        <source>Your number</source>
        <translation>您的排队号码</translation>
    </message>
    <message>
        <source>Print again</source>
        <translation>重新打印</translation>
    </message>
    <message>
        <source>Required materials</source>
        <translation>所需材料</translation>
    </message>
    <message>
        <source>Time limit</source>
        <translation>办理时限</translation>
    </message>
    <message>
        <source>Fee</source>
        <translation>收费标准</translation>
    </message>
    <message>
        <source>Where</source>
        <translation>办理窗口</translation>
    </message>
    <message>
        <source>Sample forms</source>
        <translation>样表展示</translation>
    </message>
    <message>
        <source>Take a ticket for this service</source>
        <translation>取号办理该事项</translation>
    </message>
    <message>
        <source>Back</source>
        <translation>返回</translation>
    </message>
    <message>
        <source>Check in now and take your appointment number?</source>
        <translation>现在签到并取预约号吗？</translation>
    </message>
    <message>
        <source>Check in</source>
        <translation>签到取号</translation>
    </message>
    <message>
        <source>No, choose another service</source>
        <translation>不签到，选择其他业务</translation>
    </message>
    <message>
        <source>Ticket progress</source>
        <translation>排队进度</translation>
    </message>
    <message>
        <source>Choose a service to read its guide</source>
        <translation>请选择要查看办事指南的事项</translation>
    </message>
    <message>
        <source>Back to taking a number</source>
        <translation>返回取号</translation>
    </message>
    <message>
        <source>Close search</source>
        <translation>关闭查找</translation>
    </message>
    <message>
        <source>Search</source>
        <translation>拼音查找</translation>
    </message>
    <message>
        <source>Find: {letters}</source>
        <translation>查找：{letters}</translation>
    </message>
    <message>
        <source>Type the first letters of the pinyin, e.g. SB for 社保</source>
        <translation>请按拼音首字母查找，如“社保”请按 S、B</translation>
    </message>
    <message>
        <source>No service matches; please check the letters</source>
        <translation>没有找到匹配的事项，请检查字母</translation>
    </message>
    <message>
        <source>Done ({seconds} s)</source>
        <translation>完成（{seconds} 秒）</translation>
    </message>
    <message>
        <source>ID card read: {name}. Please choose a service.</source>
        <translation>已读取身份证：{name}，请选择办理事项</translation>
    </message>
    <message>
        <source>Ticket printer: {problem}. Your number is still shown on screen.</source>
        <translation>打印机{problem}，取号后请记住屏幕上的号码</translation>
    </message>
    <message>
        <source>Today&apos;s numbers are all taken</source>
        <translation>今日号已取完</translation>
    </message>
    <message>
        <source>Not open now</source>
        <translation>暂未开放</translation>
    </message>
    <message>
        <source>{n} waiting</source>
        <translation>等候 {n} 人</translation>
    </message>
    <message>
        <source>All</source>
        <translation>全部</translation>
    </message>
    <message>
        <source>Page {page} of {pages}</source>
        <translation>第 {page}/{pages} 页</translation>
    </message>
    <message>
        <source>Priority (green channel)</source>
        <translation>绿色通道（优先）</translation>
    </message>
    <message>
        <source>Please listen for your number and go to {windows}</source>
        <translation>请留意叫号，到 {windows}办理</translation>
    </message>
    <message>
        <source>Printing your ticket…</source>
        <translation>正在打印凭条…</translation>
    </message>
    <message>
        <source>Please take your ticket slip</source>
        <translation>请取走您的凭条</translation>
    </message>
    <message>
        <source>Please remember your number</source>
        <translation>请记住您的号码</translation>
    </message>
    <message>
        <source>Printer problem: {reason}. Please remember number {number}, or print again.</source>
        <translation>打印机{reason}，请记住您的号码 {number}，或点击重新打印</translation>
    </message>
    <message>
        <source>No sample forms for this service</source>
        <translation>该事项暂无样表</translation>
    </message>
    <message>
        <source>Please go to window {window}</source>
        <translation>请到 {window} 号窗口办理</translation>
    </message>
    <message>
        <source>{citizen}, you have an appointment today</source>
        <translation>{citizen}，您今天有一个预约</translation>
    </message>
    <message>
        <source>Booked time {slot}</source>
        <translation>预约时段 {slot}</translation>
    </message>
    <message>
        <source>Scan the QR code on your ticket slip to see its progress</source>
        <translation>请扫描凭条上的二维码查询排队进度</translation>
    </message>
    <message>
        <source>Self-service numbers are not available right now</source>
        <translation>自助取号暂停服务</translation>
    </message>
    <message>
        <source>Reconnecting to the hall system; this screen comes back by itself</source>
        <translation>正在重新连接大厅系统，恢复后本机自动回到取号页面</translation>
    </message>
    <message>
        <source>One visit: {name}</source>
        <translation>{name} · 一次办</translation>
    </message>
</context>
<context>
    <name>Opening</name>
    <message>
        <source>Not open now</source>
        <translation>暂未开放</translation>
    </message>
    <message>
        <source>Opens today at {time}</source>
        <translation>今天 {time} 开始办理</translation>
    </message>
    <message>
        <source>Opens {day} {mon} at {time}</source>
        <translation>{month}月{day}日 {time} 开始办理</translation>
    </message>
</context>
<context>
    <name>PinPad</name>
    <message>
        <source>Staff only</source>
        <translation>工作人员专用</translation>
    </message>
    <message>
        <source>Enter the admin PIN</source>
        <translation>请输入管理员密码</translation>
    </message>
    <message>
        <source>Delete</source>
        <translation>删除</translation>
    </message>
    <message>
        <source>OK</source>
        <translation>确定</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
</context>
<context>
    <name>Rating</name>
    <message>
        <source>Very satisfied</source>
        <translation>非常满意</translation>
    </message>
    <message>
        <source>Satisfied</source>
        <translation>满意</translation>
    </message>
    <message>
        <source>Fairly satisfied</source>
        <translation>基本满意</translation>
    </message>
    <message>
        <source>Dissatisfied</source>
        <translation>不满意</translation>
    </message>
    <message>
        <source>Very dissatisfied</source>
        <translation>非常不满意</translation>
    </message>
    <message>
        <source>no reason given</source>
        <translation>未说明</translation>
    </message>
</context>
<context>
    <name>ReportChart</name>
    <message>
        <source>{hall}: queue and ratings, {period}</source>
        <translation>{hall}：排队与评价，{period}</translation>
    </message>
    <message>
        <source>Tickets {tickets} · served {served} · no-shows {no_shows} · transfers {transfers} · average wait {wait} min · average service {service} min</source>
        <translation>取号 {tickets} · 办结 {served} · 过号 {no_shows} · 转办 {transfers} · 平均等候 {wait} 分钟 · 平均办理 {service} 分钟</translation>
    </message>
    <message>
        <source>Tickets and waits per hour</source>
        <translation>每小时取号与等候</translation>
    </message>
    <message>
        <source>Tickets and waits per day</source>
        <translation>每日取号与等候</translation>
    </message>
    <message>
        <source>Tickets and waits count when the ticket was taken; served, when service finished.</source>
        <translation>取号与等候按取号时间计，办结按办结时间计。</translation>
    </message>
    <message>
        <source>tickets</source>
        <translation>取号</translation>
    </message>
    <message>
        <source>served</source>
        <translation>办结</translation>
    </message>
    <message>
        <source>average wait (min)</source>
        <translation>平均等候（分钟）</translation>
    </message>
    <message>
        <source>90% waited less than (min)</source>
        <translation>90% 的人等候少于（分钟）</translation>
    </message>
    <message>
        <source>wait (min)</source>
        <translation>等候（分钟）</translation>
    </message>
    <message>
        <source>Ratings</source>
        <translation>评价</translation>
    </message>
    <message>
        <source>Good {rate} · bad {bad} of {count}</source>
        <translation>好评率 {rate} · 差评 {bad} / 共 {count}</translation>
    </message>
    <message>
        <source>Good = levels 3–5 of all ratings; bad = levels 1–2.</source>
        <translation>好评率 = 基本满意及以上（3–5 级）占全部评价；差评 = 不满意、非常不满意（1–2 级）。</translation>
    </message>
</context>
<context>
    <name>Section</name>
    <message>
        <source>Page {page} of {pages}</source>
        <translation>第 {page}/{pages} 页</translation>
    </message>
</context>
<context>
    <name>SimulatorPanel</name>
    <message>
        <source>Device simulator</source>
        <translation>模拟设备</translation>
    </message>
    <message>
        <source>ID-card reader</source>
        <translation>身份证阅读器</translation>
    </message>
    <message>
        <source>Swipe a sample card (aged 70+)</source>
        <translation>刷样例身份证（70 岁以上）</translation>
    </message>
    <message>
        <source>Swipe a sample card (young adult)</source>
        <translation>刷样例身份证（青年）</translation>
    </message>
    <message>
        <source>Code scanner</source>
        <translation>扫码器</translation>
    </message>
    <message>
        <source>Scan a sample appointment</source>
        <translation>扫样例预约码</translation>
    </message>
    <message>
        <source>Scan an invalid code</source>
        <translation>扫无效二维码</translation>
    </message>
    <message>
        <source>Ticket printer</source>
        <translation>热敏打印机</translation>
    </message>
    <message>
        <source>Out of paper</source>
        <translation>缺纸</translation>
    </message>
    <message>
        <source>Evaluator at window</source>
        <translation>窗口评价器</translation>
    </message>
    <message>
        <source>No rating was asked at this window</source>
        <translation>该窗口当前没有待评价的号码</translation>
    </message>
</context>
<context>
    <name>States</name>
    <message>
        <source>Waiting</source>
        <translation>等候中</translation>
    </message>
    <message>
        <source>Called</source>
        <translation>已叫号</translation>
    </message>
    <message>
        <source>Being served</source>
        <translation>办理中</translation>
    </message>
    <message>
        <source>Finished</source>
        <translation>已办结</translation>
    </message>
    <message>
        <source>Missed (no-show)</source>
        <translation>已过号</translation>
    </message>
    <message>
        <source>Transferred</source>
        <translation>已转办</translation>
    </message>
    <message>
        <source>Cancelled</source>
        <translation>已取消</translation>
    </message>
    <message>
        <source>Open</source>
        <translation>开放</translation>
    </message>
    <message>
        <source>Paused</source>
        <translation>暂停服务</translation>
    </message>
    <message>
        <source>Calling</source>
        <translation>呼叫中</translation>
    </message>
    <message>
        <source>Serving</source>
        <translation>办理中</translation>
    </message>
    <message>
        <source>Closed</source>
        <translation>已关闭</translation>
    </message>
    <message>
        <source>Free</source>
        <translation>空闲</translation>
    </message>
</context>
<context>
    <name>Voice</name>
    <message>
        <source>Number {number}, please go to window {window}</source>
        <translation>请 {number} 号到 {window} 号窗口办理</translation>
    </message>
</context>
<context>
    <name>VoiceGuide</name>
    <message>
        <source>Your ID card is read. Please choose a service</source>
        <translation>已读取身份证，请选择办理事项</translation>
    </message>
    <message>
        <source>Your number is {number}. Please take your ticket</source>
        <translation>您的号码是 {number}，请取走号票</translation>
    </message>
</context>
<context>
    <name>Window</name>
    <message>
        <source>Enter the assisting staff member&apos;s ID</source>
        <translation>请输入帮办工作人员工号</translation>
    </message>
    <message>
        <source>Choose why the window pauses first</source>
        <translation>请先选择暂停原因</translation>
    </message>
    <message>
        <source>Enter your staff ID and PIN</source>
        <translation>请输入工号和密码</translation>
    </message>
    <message>
        <source>The scanned code is not a staff card</source>
        <translation>扫描的不是工作证</translation>
    </message>
    <message>
        <source>Someone is signed in here: sign out before the next staff card</source>
        <translation>已有工作人员签到：请先签退，再刷下一张工作证</translation>
    </message>
    <message>
        <source>Nobody signs in at this hall&apos;s windows</source>
        <translation>本厅窗口无需签到</translation>
    </message>
</context>
<context>
    <name>WindowStationView</name>
    <message>
        <source>Call next</source>
        <translation>呼叫下一位</translation>
    </message>
    <message>
        <source>Recall</source>
        <translation>重呼</translation>
    </message>
    <message>
        <source>No-show</source>
        <translation>过号</translation>
    </message>
    <message>
        <source>Start service</source>
        <translation>开始办理</translation>
    </message>
    <message>
        <source>Finish</source>
        <translation>办结</translation>
    </message>
    <message>
        <source>Transfer</source>
        <translation>转办</translation>
    </message>
    <message>
        <source>Reactivate</source>
        <translation>过号重排</translation>
    </message>
    <message>
        <source>Reprint slip</source>
        <translation>补打凭条</translation>
    </message>
    <message>
        <source>Pause</source>
        <translation>暂停服务</translation>
    </message>
    <message>
        <source>Resume</source>
        <translation>恢复服务</translation>
    </message>
    <message>
        <source>Number, e.g. A012</source>
        <translation>号码，如 A012</translation>
    </message>
    <message>
        <source>Window {n}</source>
        <translation>{n} 号窗口</translation>
    </message>
    <message>
        <source>Current ticket</source>
        <translation>当前号码</translation>
    </message>
    <message>
        <source>Confirm transfer</source>
        <translation>确认转办</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>Sign in to window {n}</source>
        <translation>{n}号窗口签到</translation>
    </message>
    <message>
        <source>Staff ID (工号) and PIN</source>
        <translation>请输入工号和密码</translation>
    </message>
    <message>
        <source>PIN</source>
        <translation>密码</translation>
    </message>
    <message>
        <source>Sign in</source>
        <translation>签到</translation>
    </message>
    <message>
        <source>Or scan your staff card</source>
        <translation>或扫描工作证</translation>
    </message>
    <message>
        <source>Staff card</source>
        <translation>工作证</translation>
    </message>
    <message>
        <source>Sign out</source>
        <translation>签退</translation>
    </message>
    <message>
        <source>Window {n} · {name}</source>
        <translation>{n} 号窗口 · {name}</translation>
    </message>
    <message>
        <source>Served today: {n}</source>
        <translation>今日已办 {n} 件</translation>
    </message>
    <message>
        <source>Transfer to…</source>
        <translation>选择转办事项…</translation>
    </message>
    <message>
        <source>People waiting: {n}</source>
        <translation>等候人数：{n}</translation>
    </message>
    <message>
        <source>priority</source>
        <translation>优先</translation>
    </message>
    <message>
        <source>Staff: {who}</source>
        <translation>工作人员：{who}</translation>
    </message>
    <message>
        <source>Pause because…</source>
        <translation>暂停原因…</translation>
    </message>
    <message>
        <source>Waiting for the citizen&apos;s rating of {number}…</source>
        <translation>等待办事人对 {number} 的评价…</translation>
    </message>
    <message>
        <source>{number} rated: {score}</source>
        <translation>{number} 评价：{score}</translation>
    </message>
    <message>
        <source>{number}: no rating given</source>
        <translation>{number}：未评价</translation>
    </message>
    <message>
        <source>No evaluator: the citizen scans this code to rate {number}</source>
        <translation>无评价器：请办事人扫码评价 {number}</translation>
    </message>
    <message>
        <source>Reasons: {reasons}</source>
        <translation>原因：{reasons}</translation>
    </message>
    <message>
        <source>Case number: {case}</source>
        <translation>办件编号：{case}</translation>
    </message>
    <message>
        <source>The citizen may scan this code to say why</source>
        <translation>请市民扫码说明原因</translation>
    </message>
    <message>
        <source>Choose the service to transfer to first</source>
        <translation>请先选择转办的事项</translation>
    </message>
    <message>
        <source>Transfer {number} to {service}?</source>
        <translation>将 {number} 转办到 {service}？</translation>
    </message>
    <message>
        <source>For {time}</source>
        <translation>用时 {time}</translation>
    </message>
    <message>
        <source>Staff ID</source>
        <translation>工号</translation>
    </message>
    <message>
        <source>Assisted (帮办)</source>
        <translation>帮办</translation>
    </message>
    <message>
        <source>Proxy (代办)</source>
        <translation>代办</translation>
    </message>
    <message>
        <source>Mark assisted</source>
        <translation>登记帮办代办</translation>
    </message>
    <message>
        <source>one visit, step {leg}</source>
        <translation>一件事第{leg}项</translation>
    </message>
</context>
</TS>
